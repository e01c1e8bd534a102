/**
 * Partition tables, LVM2, swap, ext4 and NTFS behind one read-only filesystem API; knows nothing of backups or policy.
 */
package dev.pluck.fs;
