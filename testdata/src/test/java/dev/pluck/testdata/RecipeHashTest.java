package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RecipeHashTest {

  @Test
  void eachRecipeHasItsOwnStableHash() {
    Set<String> seen = new HashSet<>();
    for (TestDisks.Recipe recipe : TestDisks.RECIPES.values()) {
      String hash = TestDisks.recipeHash(recipe);
      assertThat(hash).matches("[0-9a-f]{16}").isEqualTo(TestDisks.recipeHash(recipe));
      assertThat(seen.add(hash)).as("hash of %s is unique", recipe.name()).isTrue();
    }
  }

  @Test
  void theArgumentsArePartOfTheHash() {
    TestDisks.Recipe a = new TestDisks.Recipe("x", "build-gpt-mixed.sh", List.of("512"), null);
    TestDisks.Recipe b = new TestDisks.Recipe("x", "build-gpt-mixed.sh", List.of("4096"), null);
    assertThat(TestDisks.recipeHash(a)).isNotEqualTo(TestDisks.recipeHash(b));
  }

  @Test
  void theWindowsDisksAreFoundInTheSharedFolder() {
    for (String w : TestDisks.WINDOWS_NTFS) {
      assertThat(TestDisks.sharedDir().resolve("testdata/ntfs-windows/ntfs-" + w + ".raw.gz")).isRegularFile();
    }
  }
}
