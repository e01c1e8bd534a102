package dev.pluck.nbd.protocol;

import java.util.Map;

/** Constants of the NBD protocol, named as the NBD project's {@code doc/proto.md} names them. */
public final class Nbd {
  private Nbd() {}

  // Handshake.
  /** "NBDMAGIC", first 8 bytes the server sends. */
  public static final long NBDMAGIC = 0x4e42444d41474943L;
  /** "IHAVEOPT": newstyle server greeting, and the prefix of every client option. */
  public static final long IHAVEOPT = 0x49484156454F5054L;
  /** Oldstyle greeting magic (not supported: it has no option haggling). */
  public static final long CLISERV_MAGIC = 0x00420281861253L;
  /** Magic of every option reply. */
  public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

  /** Handshake flags (server, 16 bits). */
  public static final int NBD_FLAG_FIXED_NEWSTYLE = 1;
  public static final int NBD_FLAG_NO_ZEROES = 2;
  /** Client flags (32 bits). */
  public static final int NBD_FLAG_C_FIXED_NEWSTYLE = 1;
  public static final int NBD_FLAG_C_NO_ZEROES = 2;

  // Options.
  public static final int NBD_OPT_EXPORT_NAME = 1;
  public static final int NBD_OPT_ABORT = 2;
  public static final int NBD_OPT_LIST = 3;
  public static final int NBD_OPT_STARTTLS = 5;
  public static final int NBD_OPT_INFO = 6;
  public static final int NBD_OPT_GO = 7;
  public static final int NBD_OPT_STRUCTURED_REPLY = 8;
  public static final int NBD_OPT_LIST_META_CONTEXT = 9;
  public static final int NBD_OPT_SET_META_CONTEXT = 10;
  public static final int NBD_OPT_EXTENDED_HEADERS = 11;

  // Option reply types; errors have bit 31 set.
  public static final int NBD_REP_ACK = 1;
  public static final int NBD_REP_SERVER = 2;
  public static final int NBD_REP_INFO = 3;
  public static final int NBD_REP_META_CONTEXT = 4;
  public static final int NBD_REP_FLAG_ERROR = 1 << 31;
  public static final int NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR | 1;
  public static final int NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR | 2;
  public static final int NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR | 3;
  public static final int NBD_REP_ERR_PLATFORM = NBD_REP_FLAG_ERROR | 4;
  public static final int NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR | 5;
  public static final int NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR | 6;
  public static final int NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR | 7;
  public static final int NBD_REP_ERR_BLOCK_SIZE_REQD = NBD_REP_FLAG_ERROR | 8;
  public static final int NBD_REP_ERR_TOO_BIG = NBD_REP_FLAG_ERROR | 9;
  public static final int NBD_REP_ERR_EXT_HEADER_REQD = NBD_REP_FLAG_ERROR | 10;

  // NBD_OPT_INFO / NBD_OPT_GO information types.
  public static final int NBD_INFO_EXPORT = 0;
  public static final int NBD_INFO_NAME = 1;
  public static final int NBD_INFO_DESCRIPTION = 2;
  public static final int NBD_INFO_BLOCK_SIZE = 3;

  // Transmission flags (16 bits, per export).
  public static final int NBD_FLAG_HAS_FLAGS = 1;
  public static final int NBD_FLAG_READ_ONLY = 1 << 1;
  public static final int NBD_FLAG_SEND_FLUSH = 1 << 2;
  public static final int NBD_FLAG_SEND_FUA = 1 << 3;
  public static final int NBD_FLAG_ROTATIONAL = 1 << 4;
  public static final int NBD_FLAG_SEND_TRIM = 1 << 5;
  public static final int NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
  public static final int NBD_FLAG_SEND_DF = 1 << 7;
  public static final int NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
  public static final int NBD_FLAG_SEND_RESIZE = 1 << 9;
  public static final int NBD_FLAG_SEND_CACHE = 1 << 10;
  public static final int NBD_FLAG_SEND_FAST_ZERO = 1 << 11;
  public static final int NBD_FLAG_BLOCK_STAT_PAYLOAD = 1 << 12;

  /** Transmission flag names, low bit first, as nbdinfo prints them. */
  public static final Map<Integer, String> TRANSMISSION_FLAG_NAMES = Map.ofEntries(
      Map.entry(NBD_FLAG_READ_ONLY, "read_only"),
      Map.entry(NBD_FLAG_SEND_FLUSH, "send_flush"),
      Map.entry(NBD_FLAG_SEND_FUA, "send_fua"),
      Map.entry(NBD_FLAG_ROTATIONAL, "rotational"),
      Map.entry(NBD_FLAG_SEND_TRIM, "send_trim"),
      Map.entry(NBD_FLAG_SEND_WRITE_ZEROES, "send_write_zeroes"),
      Map.entry(NBD_FLAG_SEND_DF, "send_df"),
      Map.entry(NBD_FLAG_CAN_MULTI_CONN, "can_multi_conn"),
      Map.entry(NBD_FLAG_SEND_RESIZE, "send_resize"),
      Map.entry(NBD_FLAG_SEND_CACHE, "send_cache"),
      Map.entry(NBD_FLAG_SEND_FAST_ZERO, "send_fast_zero"),
      Map.entry(NBD_FLAG_BLOCK_STAT_PAYLOAD, "block_stat_payload"));

  // Requests.
  public static final int NBD_REQUEST_MAGIC = 0x25609513;
  public static final int NBD_EXTENDED_REQUEST_MAGIC = 0x21e41c71;
  /** Plain request: magic, flags, type, cookie, offset, 32-bit length. */
  public static final int REQUEST_SIZE = 28;
  /** Extended request: the same with a 64-bit length. */
  public static final int EXTENDED_REQUEST_SIZE = 32;

  public static final int NBD_CMD_READ = 0;
  public static final int NBD_CMD_WRITE = 1;
  public static final int NBD_CMD_DISC = 2;
  public static final int NBD_CMD_FLUSH = 3;
  public static final int NBD_CMD_TRIM = 4;
  public static final int NBD_CMD_CACHE = 5;
  public static final int NBD_CMD_WRITE_ZEROES = 6;
  public static final int NBD_CMD_BLOCK_STATUS = 7;

  public static final int NBD_CMD_FLAG_FUA = 1;
  public static final int NBD_CMD_FLAG_NO_HOLE = 1 << 1;
  public static final int NBD_CMD_FLAG_DF = 1 << 2;
  public static final int NBD_CMD_FLAG_REQ_ONE = 1 << 3;
  public static final int NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

  // Replies.
  public static final int NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
  public static final int NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;
  public static final int NBD_EXTENDED_REPLY_MAGIC = 0x6e8a278c;
  /** Simple reply: magic, error, cookie. */
  public static final int SIMPLE_REPLY_SIZE = 16;
  /** Structured reply chunk header: magic, flags, type, cookie, 32-bit length. */
  public static final int STRUCTURED_REPLY_SIZE = 20;
  /** Extended reply chunk header: magic, flags, type, cookie, offset, 64-bit length. */
  public static final int EXTENDED_REPLY_SIZE = 32;

  public static final int NBD_REPLY_FLAG_DONE = 1;

  public static final int NBD_REPLY_TYPE_NONE = 0;
  public static final int NBD_REPLY_TYPE_OFFSET_DATA = 1;
  public static final int NBD_REPLY_TYPE_OFFSET_HOLE = 2;
  public static final int NBD_REPLY_TYPE_BLOCK_STATUS = 5;
  public static final int NBD_REPLY_TYPE_BLOCK_STATUS_EXT = 6;
  public static final int NBD_REPLY_TYPE_ERROR = (1 << 15) | 1;
  public static final int NBD_REPLY_TYPE_ERROR_OFFSET = (1 << 15) | 2;

  /** Error values on the wire and their errno names. */
  public static final Map<Integer, String> ERRNO_NAMES = Map.of(
      1, "EPERM", 5, "EIO", 12, "ENOMEM", 22, "EINVAL", 28, "ENOSPC",
      75, "EOVERFLOW", 95, "ENOTSUP", 108, "ESHUTDOWN");

  public static String errnoName(int error) {
    return ERRNO_NAMES.getOrDefault(error, "error " + error);
  }

  public static String optionName(int option) {
    return switch (option) {
      case NBD_OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
      case NBD_OPT_ABORT -> "NBD_OPT_ABORT";
      case NBD_OPT_LIST -> "NBD_OPT_LIST";
      case NBD_OPT_STARTTLS -> "NBD_OPT_STARTTLS";
      case NBD_OPT_INFO -> "NBD_OPT_INFO";
      case NBD_OPT_GO -> "NBD_OPT_GO";
      case NBD_OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
      case NBD_OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
      case NBD_OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
      case NBD_OPT_EXTENDED_HEADERS -> "NBD_OPT_EXTENDED_HEADERS";
      default -> "option " + option;
    };
  }

  public static String replyErrorName(int reply) {
    return switch (reply) {
      case NBD_REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
      case NBD_REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
      case NBD_REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
      case NBD_REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
      case NBD_REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
      case NBD_REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
      case NBD_REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
      case NBD_REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
      case NBD_REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
      case NBD_REP_ERR_EXT_HEADER_REQD -> "NBD_REP_ERR_EXT_HEADER_REQD";
      default -> "reply " + Integer.toUnsignedString(reply);
    };
  }

  public static String commandName(int command) {
    return switch (command) {
      case NBD_CMD_READ -> "NBD_CMD_READ";
      case NBD_CMD_WRITE -> "NBD_CMD_WRITE";
      case NBD_CMD_DISC -> "NBD_CMD_DISC";
      case NBD_CMD_FLUSH -> "NBD_CMD_FLUSH";
      case NBD_CMD_TRIM -> "NBD_CMD_TRIM";
      case NBD_CMD_CACHE -> "NBD_CMD_CACHE";
      case NBD_CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
      case NBD_CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
      default -> "command " + command;
    };
  }
}
