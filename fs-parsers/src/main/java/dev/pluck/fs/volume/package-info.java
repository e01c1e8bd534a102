/**
 * The volume layer: partition tables (MBR with its extended chain, GPT), LVM2 physical volumes,
 * volume groups and logical volumes, swap, and filesystem signatures. Turns one or several disks
 * into a tree of volumes, each readable as a {@link dev.pluck.nbd.BlockDevice} view.
 */
package dev.pluck.fs.volume;
