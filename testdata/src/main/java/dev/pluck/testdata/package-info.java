/**
 * Real disk images built by the real tools, each with an oracle made only by independent tools,
 * and fixtures that run real daemons (qemu-nbd, nbdkit, qemu-storage-daemon, qemu-system-x86_64).
 *
 * <p>Start with {@link dev.pluck.testdata.TestDisks}: {@code TestDisks.get("gpt-mixed")} builds
 * the image on first use, caches it by a hash of its recipe, and hands back its paths and {@link
 * dev.pluck.testdata.Oracle}.
 */
package dev.pluck.testdata;
