package dev.pluck.engine.repo;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which snapshots a keep policy forgets, group by group (a group is one VM's drives and chain
 * unless told otherwise), so keeping the last 7 of one VM never touches another's.
 */
public final class Forget {
  /** How many to keep: the last N, and the newest of each of the last N days, ISO weeks and months (UTC). */
  public record Policy(int last, int daily, int weekly, int monthly) {
    public boolean keepsAll() {
      return last <= 0 && daily <= 0 && weekly <= 0 && monthly <= 0;
    }
  }

  private Forget() {}

  /** The snapshots to forget under {@code policy}; {@code groupBy} is a subset of "vm", "drive", "chain". */
  public static List<Snapshot> plan(List<Snapshot> snapshots, Policy policy, Set<String> groupBy) {
    Map<String, List<Snapshot>> groups = new LinkedHashMap<>();
    for (Snapshot s : snapshots) {
      groups.computeIfAbsent(key(s, groupBy), k -> new ArrayList<>()).add(s);
    }
    List<Snapshot> out = new ArrayList<>();
    for (List<Snapshot> group : groups.values()) {
      group.sort((a, b) -> b.time().compareTo(a.time()));  // newest first
      Set<Snapshot> keep = new HashSet<>();
      for (int i = 0; i < Math.min(policy.last(), group.size()); i++) {
        keep.add(group.get(i));
      }
      keepNewestPer(group, policy.daily(), keep, t -> t.toLocalDate().toString());
      keepNewestPer(group, policy.weekly(), keep, t -> t.get(IsoFields.WEEK_BASED_YEAR) + "-W" + t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
      keepNewestPer(group, policy.monthly(), keep, t -> t.getYear() + "-" + t.getMonthValue());
      for (Snapshot s : group) {
        if (!keep.contains(s)) {
          out.add(s);
        }
      }
    }
    return out;
  }

  private static void keepNewestPer(List<Snapshot> newestFirst, int periods, Set<Snapshot> keep,
      java.util.function.Function<ZonedDateTime, String> period) {
    Set<String> seen = new HashSet<>();
    for (Snapshot s : newestFirst) {
      if (seen.size() >= periods) {
        return;
      }
      if (seen.add(period.apply(Instant.parse(s.time()).atZone(ZoneOffset.UTC)))) {
        keep.add(s);
      }
    }
  }

  static String key(Snapshot s, Set<String> groupBy) {
    StringBuilder k = new StringBuilder();
    if (groupBy.contains("vm")) {
      k.append(s.source() == null ? "" : s.source().vm());
    }
    k.append('|');
    if (groupBy.contains("drive")) {
      k.append(s.source() == null || s.source().drives() == null ? "" : String.join(",", s.source().drives()));
    }
    k.append('|');
    if (groupBy.contains("chain")) {
      k.append(s.chain() == null ? "" : s.chain());
    }
    return k.toString();
  }
}
