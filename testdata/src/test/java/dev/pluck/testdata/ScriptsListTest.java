package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class ScriptsListTest {

  @Test
  void everyBuilderScriptIsPartOfTheRecipeHash() throws IOException {
    // A script left out of SCRIPTS would change images without invalidating the cache.
    try (Stream<Path> files = Files.list(Path.of("scripts"))) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .containsExactlyInAnyOrderElementsOf(TestDisks.SCRIPTS);
    }
  }

  @Test
  void everyScriptIsOnTheClasspathAsInTheFolder() throws IOException {
    for (String script : TestDisks.SCRIPTS) {
      assertThat(TestDisks.scriptBytes(script)).isEqualTo(Files.readAllBytes(Path.of("scripts", script)));
    }
  }

  @Test
  void everyRecipeNamesAnExistingScript() {
    TestDisks.RECIPES.values().forEach(r -> assertThat(TestDisks.SCRIPTS).contains(r.script()));
  }
}
