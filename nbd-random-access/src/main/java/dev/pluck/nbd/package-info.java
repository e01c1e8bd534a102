/**
 * NBD client, the {@code BlockDevice} abstraction and read planning: bytes and ranges, nothing about filesystems.
 */
package dev.pluck.nbd;
