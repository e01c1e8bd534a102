/**
 * NTFS read in pure Java: boot sector, the MFT through its own runlist, attributes (resident,
 * non-resident, spread by {@code $ATTRIBUTE_LIST}), directory index B+-trees, LZNT1 compression,
 * sparse runs, alternate data streams and reparse points. Names follow the NTFS documentation of
 * the libyal project and the Linux ntfs driver.
 */
package dev.pluck.fs.ntfs;
