package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GlobTest {
  @Test
  void gitignoreStylePatterns() {
    assertThat(new Glob("/etc/**").matches("/etc/hosts")).isTrue();
    assertThat(new Glob("/etc/**").matches("/etc/ssh/sshd_config")).isTrue();
    assertThat(new Glob("/etc/**").matches("/etcetera/x")).isFalse();
    assertThat(new Glob("/home/*/.cache").matches("/home/alice/.cache/thumbs/1.png")).isTrue();
    assertThat(new Glob("/home/*/.cache").matches("/home/alice/docs/.cache")).isFalse();
    assertThat(new Glob("*.tmp").matches("/var/tmp/a.tmp")).isTrue();
    assertThat(new Glob("*.tmp").matches("/a.tmp.keep")).isFalse();
    assertThat(new Glob("cache").matches("/srv/app/cache/x")).isTrue();
    assertThat(new Glob("**/node_modules").matches("/src/web/node_modules/react/index.js")).isTrue();
    assertThat(new Glob("/data/file?.[ch]").matches("/data/file1.c")).isTrue();
    assertThat(new Glob("/data/file?.[ch]").matches("/data/file12.c")).isFalse();
    assertThat(new Glob("logs/").matches("/var/logs/a")).isTrue();
  }

  @Test
  void walksGoOnlyWhereAnIncludeCanMatch() {
    Glob g = new Glob("/home/alice/**");
    assertThat(g.couldMatchBelow("/")).isTrue();
    assertThat(g.couldMatchBelow("/home")).isTrue();
    assertThat(g.couldMatchBelow("/home/alice")).isTrue();
    assertThat(g.couldMatchBelow("/home/alice/docs")).isTrue();
    assertThat(g.couldMatchBelow("/home/bob")).isFalse();
    assertThat(g.couldMatchBelow("/usr")).isFalse();
    assertThat(new Glob("*.conf").couldMatchBelow("/usr")).isTrue();
  }
}
