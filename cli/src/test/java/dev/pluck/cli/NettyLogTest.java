package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class NettyLogTest {
  private final InternalLoggerFactory before = InternalLoggerFactory.getDefaultFactory();

  @AfterEach
  void restore() {
    InternalLoggerFactory.setDefaultFactory(before);
  }

  @Test
  void placeholdersTakeTheArgumentsInOrder() {
    assertThat(NettyLog.format("a {} b {} c", 1, "two")).isEqualTo("a 1 b two c");
    assertThat(NettyLog.format("{}{}", "x")).isEqualTo("x{}");
    assertThat(NettyLog.format("none", 1, 2)).isEqualTo("none");
    assertThat(NettyLog.format(null)).isEqualTo("null");
  }

  @Test
  void warningsAndErrorsAreOneLineOnStderrAndTheRestIsDropped() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    NettyLog.install(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    InternalLogger log = InternalLoggerFactory.getInstance("io.netty.test");
    log.debug("not {}", "shown");
    log.info("not shown");
    assertThat(log.isDebugEnabled()).isFalse();
    log.warn("pipeline {} ended at {}", "nbd", "the tail");
    log.error("leak\\nin {}", "pool", new IllegalStateException("refCnt: 0"));
    log.warn("cause consumed by {}", (Object) new IllegalStateException("boom"));
    assertThat(bytes.toString(StandardCharsets.UTF_8).lines()).containsExactly(
        "pluck: netty: pipeline nbd ended at the tail",
        "pluck: netty: leak\\nin pool: refCnt: 0",
        "pluck: netty: cause consumed by java.lang.IllegalStateException: boom");
  }
}
