package dev.pluck.fs.ext4;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * How pluck shows an fscrypt-encrypted name without its key: the kernel's no-key form
 * ("struct fscrypt_nokey_name": an 8-byte directory hash, the ciphertext, and past 149 bytes a
 * SHA-256 of the rest, in unpadded base64url), with the hash left zero as the kernel leaves it for
 * symlink targets. Names are never decrypted.
 */
final class EncryptedName {
  static final int HASH_BYTES = 8;
  static final int MAX_CIPHERTEXT = 149;

  private EncryptedName() {}

  static String of(byte[] b, int from, int length) {
    int kept = Math.min(length, MAX_CIPHERTEXT);
    byte[] nokey = new byte[HASH_BYTES + kept + (length > MAX_CIPHERTEXT ? 32 : 0)];
    System.arraycopy(b, from, nokey, HASH_BYTES, kept);
    if (length > MAX_CIPHERTEXT) {
      try {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(b, from + MAX_CIPHERTEXT, length - MAX_CIPHERTEXT);
        System.arraycopy(sha.digest(), 0, nokey, HASH_BYTES + kept, 32);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every JDK has SHA-256", e);
      }
    }
    return Base64.getUrlEncoder().withoutPadding().encodeToString(nokey);
  }
}
