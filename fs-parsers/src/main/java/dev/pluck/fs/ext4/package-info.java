/**
 * ext2, ext3 and ext4 in pure Java, read-only, one class per on-disk structure as the kernel's
 * ext4 disk layout documentation names them.
 */
package dev.pluck.fs.ext4;
