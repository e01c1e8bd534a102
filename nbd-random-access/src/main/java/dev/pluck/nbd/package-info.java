/**
 * How bytes reach pluck: the {@link dev.pluck.nbd.BlockDevice} abstraction (NBD exports, raw
 * image files, and cheap views over partitions and LVM segments), the {@link
 * dev.pluck.nbd.ReadPlanner} that turns scattered wanted ranges into few large pipelined reads,
 * and a bounded metadata cache. Knows bytes and ranges, nothing about filesystems.
 */
package dev.pluck.nbd;
