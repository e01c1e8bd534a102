/**
 * Restore to directories, tar streams, images and NBD targets; NBD serving of snapshots.
 */
package dev.pluck.restore;
