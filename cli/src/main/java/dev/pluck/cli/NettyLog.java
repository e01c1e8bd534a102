package dev.pluck.cli;

import io.netty.util.internal.logging.AbstractInternalLogger;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.io.PrintStream;

/**
 * Netty's log, as pluck's command line wants it: warnings and errors as one line each on stderr
 * ({@code pluck: netty: ...}, with the stack trace under {@code -v}), nothing below. Without it
 * Netty finds no SLF4J or Log4J and starts java.util.logging, ~20 ms of every command that
 * connects to NBD or QMP (docs/PERFORMANCE.md).
 */
final class NettyLog extends InternalLoggerFactory {
  private final PrintStream err;

  private NettyLog(PrintStream err) {
    this.err = err;
  }

  /** Makes every Netty logger created from now on one of these; call before Netty is touched. */
  static void install(PrintStream err) {
    InternalLoggerFactory.setDefaultFactory(new NettyLog(err));
  }

  @Override
  protected InternalLogger newInstance(String name) {
    return new Logger(name, err);
  }

  /** {@code format} with each {} replaced by the next argument, as SLF4J formats. */
  static String format(String format, Object... args) {
    if (format == null || args.length == 0) {
      return String.valueOf(format);
    }
    StringBuilder out = new StringBuilder(format.length() + 32);
    int from = 0;
    int used = 0;
    for (int at; used < args.length && (at = format.indexOf("{}", from)) >= 0; from = at + 2) {
      out.append(format, from, at).append(args[used++]);
    }
    return out.append(format, from, format.length()).toString();
  }

  private static final class Logger extends AbstractInternalLogger {
    private static final long serialVersionUID = 1L;
    private final transient PrintStream err;

    Logger(String name, PrintStream err) {
      super(name);
      this.err = err;
    }

    private void print(String message, Throwable cause) {
      String line = "pluck: netty: " + message;
      if (cause != null) {
        line += ": " + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getName());
      }
      err.println(line.replace('\n', ' '));
      if (cause != null && Pluck.verbose) {
        cause.printStackTrace(err);
      }
    }

    /** SLF4J's rule: a Throwable last and left over by the format's {}s is the cause. */
    private void print(String format, Object[] args) {
      if (args.length > 0 && args[args.length - 1] instanceof Throwable t && placeholders(format) < args.length) {
        print(format(format, java.util.Arrays.copyOf(args, args.length - 1)), t);
      } else {
        print(format(format, args), (Throwable) null);
      }
    }

    private static int placeholders(String format) {
      int n = 0;
      for (int at = format == null ? -1 : format.indexOf("{}"); at >= 0; at = format.indexOf("{}", at + 2)) {
        n++;
      }
      return n;
    }

    @Override
    public boolean isTraceEnabled() {
      return false;
    }

    @Override
    public void trace(String msg) {}

    @Override
    public void trace(String format, Object arg) {}

    @Override
    public void trace(String format, Object argA, Object argB) {}

    @Override
    public void trace(String format, Object... arguments) {}

    @Override
    public void trace(String msg, Throwable t) {}

    @Override
    public boolean isDebugEnabled() {
      return false;
    }

    @Override
    public void debug(String msg) {}

    @Override
    public void debug(String format, Object arg) {}

    @Override
    public void debug(String format, Object argA, Object argB) {}

    @Override
    public void debug(String format, Object... arguments) {}

    @Override
    public void debug(String msg, Throwable t) {}

    @Override
    public boolean isInfoEnabled() {
      return false;
    }

    @Override
    public void info(String msg) {}

    @Override
    public void info(String format, Object arg) {}

    @Override
    public void info(String format, Object argA, Object argB) {}

    @Override
    public void info(String format, Object... arguments) {}

    @Override
    public void info(String msg, Throwable t) {}

    @Override
    public boolean isWarnEnabled() {
      return true;
    }

    @Override
    public void warn(String msg) {
      print(msg, (Throwable) null);
    }

    @Override
    public void warn(String format, Object arg) {
      print(format, new Object[] {arg});
    }

    @Override
    public void warn(String format, Object argA, Object argB) {
      print(format, new Object[] {argA, argB});
    }

    @Override
    public void warn(String format, Object... arguments) {
      print(format, arguments);
    }

    @Override
    public void warn(String msg, Throwable t) {
      print(msg, t);
    }

    @Override
    public boolean isErrorEnabled() {
      return true;
    }

    @Override
    public void error(String msg) {
      print(msg, (Throwable) null);
    }

    @Override
    public void error(String format, Object arg) {
      print(format, new Object[] {arg});
    }

    @Override
    public void error(String format, Object argA, Object argB) {
      print(format, new Object[] {argA, argB});
    }

    @Override
    public void error(String format, Object... arguments) {
      print(format, arguments);
    }

    @Override
    public void error(String msg, Throwable t) {
      print(msg, t);
    }
  }
}
