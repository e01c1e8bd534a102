package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Every command's {@code --help} (a one-line summary, every option and parameter explained, an
 * example), and the README's command list against the commands and options that really exist.
 */
class HelpTest {
  private static final Path README = Path.of("../README.md");
  /** A README command line: {@code ./pluck VERB [SUBVERB] ...}, up to a comment. */
  private static final Pattern README_COMMAND = Pattern.compile("^\\s+\\./pluck ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)(.*?)(#.*)?$");
  private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--[a-z][a-z-]*)");

  /** Every runnable command, by its full name ("vm backup"). */
  private static Map<String, CommandLine> commands() {
    Map<String, CommandLine> all = new LinkedHashMap<>();
    collect(Pluck.commandLine(), all);
    return all;
  }

  private static void collect(CommandLine c, Map<String, CommandLine> into) {
    String name = c.getCommandSpec().qualifiedName(" ").replaceFirst("^pluck ?", "");
    into.put(name, c);
    for (CommandLine sub : c.getSubcommands().values()) {
      if (!into.containsValue(sub)) {
        collect(sub, into);
      }
    }
  }

  @Test
  void everyCommandsHelpHasASummaryAnExampleAndExplainsEveryOption() {
    SoftAssertions soft = new SoftAssertions();
    for (Map.Entry<String, CommandLine> e : commands().entrySet()) {
      CommandSpec spec = e.getValue().getCommandSpec();
      String name = e.getKey().isEmpty() ? "pluck" : e.getKey();
      String[] description = spec.usageMessage().description();
      soft.assertThat(description).as("%s: a summary", name).isNotEmpty();
      if (description.length > 0) {
        soft.assertThat(description[0]).as("%s: the summary is a whole sentence", name).matches("[A-Z].*[.:)]");
      }
      String help = e.getValue().getUsageMessage(CommandLine.Help.Ansi.OFF);
      boolean hasSubcommands = !e.getValue().getSubcommands().isEmpty();
      if (!hasSubcommands && !name.equals("pluck")) {
        soft.assertThat(help).as("%s: an example", name)
            .containsPattern("(?m)^(Example: |\\s+)(\\./)?pluck " + Pattern.quote(e.getKey()) + "( |$)");
      }
      for (OptionSpec o : spec.options()) {
        soft.assertThat(String.join(" ", o.description())).as("%s %s: explained", name, o.longestName()).isNotBlank();
        if (o.arity().max() > 0) {
          soft.assertThat(o.paramLabel()).as("%s %s: its value named (not picocli's <field>)", name, o.longestName())
              .doesNotStartWith("<");
        }
      }
      for (PositionalParamSpec p : spec.positionalParameters()) {
        soft.assertThat(String.join(" ", p.description())).as("%s %s: explained", name, p.paramLabel()).isNotBlank();
      }
      if (!hasSubcommands) {
        boolean speaksQmp = e.getKey().startsWith("vm ");
        soft.assertThat(spec.findOption("--trace-qmp") != null).as("%s: --trace-qmp exactly on the vm commands", name)
            .isEqualTo(speaksQmp);
      }
    }
    soft.assertAll();
  }

  @Test
  void theReadmesCommandListNamesRealCommandsAndOptionsAndEveryCommand() throws IOException {
    Map<String, CommandLine> commands = commands();
    List<String> named = new ArrayList<>();
    SoftAssertions soft = new SoftAssertions();
    for (String line : Files.readAllLines(README)) {
      Matcher m = README_COMMAND.matcher(line);
      if (!m.matches()) {
        continue;
      }
      String verb = m.group(1);
      CommandLine command = commands.get(verb);
      if (command == null) {  // "vm backup" or "ls SOURCE": the second word may be an argument
        verb = verb.split(" ")[0];
        command = commands.get(verb);
      }
      soft.assertThat(command).as("README: ./pluck %s is a command", m.group(1)).isNotNull();
      if (command == null) {
        continue;
      }
      named.add(verb);
      String rest = m.group(2);  // the comment may name other tools' options
      Matcher o = OPTION.matcher(rest);
      while (o.find()) {
        String option = o.group(1);
        boolean exists = command.getCommandSpec().findOption(option) != null;
        soft.assertThat(exists).as("README: %s takes %s", verb, option).isTrue();
      }
    }
    for (Map.Entry<String, CommandLine> e : commands.entrySet()) {
      boolean leaf = e.getValue().getSubcommands().isEmpty() && !e.getKey().isEmpty();
      if (leaf && !e.getKey().equals("help")) {
        soft.assertThat(named).as("README's command list shows pluck %s", e.getKey()).contains(e.getKey());
      }
    }
    soft.assertAll();
  }
}
