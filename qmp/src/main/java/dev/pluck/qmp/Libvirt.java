package dev.pluck.qmp;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.byref.PointerByReference;

/**
 * The few calls of libvirt's C API (libvirt.so.0) pluck needs to back up a domain libvirt owns,
 * bound with jnr-ffi: a connection, a domain, pull-mode backup jobs, checkpoints and the guest
 * agent's freeze. Every failure is an {@link IOException} carrying libvirt's own message.
 */
public final class Libvirt implements AutoCloseable {
  /** libvirt's functions, as jnr-ffi binds them (include/libvirt/*.h). */
  public interface Api {
    Pointer virConnectOpen(String name);

    int virConnectClose(Pointer conn);

    Pointer virDomainLookupByName(Pointer conn, String name);

    int virDomainFree(Pointer domain);

    int virDomainIsActive(Pointer domain);

    Pointer virDomainGetXMLDesc(Pointer domain, int flags);

    int virDomainBackupBegin(Pointer domain, String backupXml, String checkpointXml, int flags);

    Pointer virDomainBackupGetXMLDesc(Pointer domain, int flags);

    int virDomainAbortJob(Pointer domain);

    int virDomainListAllCheckpoints(Pointer domain, PointerByReference checkpoints, int flags);

    String virDomainCheckpointGetName(Pointer checkpoint);

    Pointer virDomainCheckpointLookupByName(Pointer domain, String name, int flags);

    Pointer virDomainCheckpointCreateXML(Pointer domain, String xml, int flags);

    int virDomainCheckpointDelete(Pointer checkpoint, int flags);

    int virDomainCheckpointFree(Pointer checkpoint);

    int virDomainFSFreeze(Pointer domain, Pointer mountpoints, int count, int flags);

    int virDomainFSThaw(Pointer domain, Pointer mountpoints, int count, int flags);

    String virGetLastErrorMessage();

    void virSetErrorFunc(Pointer userData, ErrorFunc handler);
  }

  /** libc's free(3): what libvirt's returned strings and arrays are released with. */
  public interface LibC {
    void free(Pointer p);
  }

  /** virErrorFunc: libvirt's default prints every error on stderr; pluck reports them itself. */
  public interface ErrorFunc {
    @Delegate
    void call(Pointer userData, Pointer error);
  }

  /** virDomainCheckpointCreateFlags: VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE. */
  public static final int CHECKPOINT_CREATE_REDEFINE = 1;
  /** virDomainCheckpointDeleteFlags: VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY. */
  public static final int CHECKPOINT_DELETE_METADATA_ONLY = 2;

  private static final ErrorFunc QUIET = (userData, error) -> { };
  private static volatile Api api;
  private static volatile LibC libc;

  private final Api lib;
  private final Pointer conn;
  private final String uri;

  private Libvirt(Api lib, Pointer conn, String uri) {
    this.lib = lib;
    this.conn = conn;
    this.uri = uri;
  }

  static Api api() throws IOException {
    Api a = api;
    if (a == null) {
      synchronized (Libvirt.class) {
        if (api == null) {
          try {
            Api loaded = LibraryLoader.create(Api.class).load("virt");
            loaded.virSetErrorFunc(null, QUIET);
            libc = LibraryLoader.create(LibC.class).load("c");
            api = loaded;
          } catch (UnsatisfiedLinkError | RuntimeException e) {
            throw new IOException("cannot load libvirt (libvirt.so.0; Debian: apt-get install libvirt0): " + e.getMessage(), e);
          }
        }
        a = api;
      }
    }
    return a;
  }

  /** Connects to {@code uri} (qemu:///system when null). */
  public static Libvirt open(String uri) throws IOException {
    String u = uri == null ? "qemu:///system" : uri;
    Api lib = api();
    Pointer c = lib.virConnectOpen(u);
    if (c == null) {
      throw new IOException("libvirt: cannot connect to " + u + ": " + lib.virGetLastErrorMessage());
    }
    return new Libvirt(lib, c, u);
  }

  public String uri() {
    return uri;
  }

  /** The domain named {@code name}. */
  public Domain domain(String name) throws IOException {
    Pointer d = lib.virDomainLookupByName(conn, name);
    if (d == null) {
      throw new IOException("libvirt: no domain " + name + " on " + uri + ": " + lib.virGetLastErrorMessage());
    }
    return new Domain(name, d);
  }

  @Override
  public void close() {
    lib.virConnectClose(conn);
  }

  private IOException error(String what) {
    return new IOException("libvirt: " + what + ": " + lib.virGetLastErrorMessage());
  }

  /** A string libvirt allocated, read and freed. */
  private String take(Pointer p, String what) throws IOException {
    if (p == null) {
      throw error(what);
    }
    String s = p.getString(0);
    libc.free(p);
    return s;
  }

  /** One domain. */
  public final class Domain implements AutoCloseable {
    private final String name;
    private final Pointer ptr;

    private Domain(String name, Pointer ptr) {
      this.name = name;
      this.ptr = ptr;
    }

    public String name() {
      return name;
    }

    public boolean isActive() throws IOException {
      int r = lib.virDomainIsActive(ptr);
      if (r < 0) {
        throw error("is domain " + name + " running");
      }
      return r == 1;
    }

    /** The domain's XML (its live definition when running). */
    public String xml() throws IOException {
      return take(lib.virDomainGetXMLDesc(ptr, 0), "XML of domain " + name);
    }

    /** Starts a backup job (virDomainBackupBegin). */
    public void backupBegin(String backupXml, String checkpointXml) throws IOException {
      if (lib.virDomainBackupBegin(ptr, backupXml, checkpointXml, 0) < 0) {
        throw error("backup of domain " + name + " did not begin");
      }
    }

    /** The running backup job's XML: where its exports are. */
    public String backupXml() throws IOException {
      return take(lib.virDomainBackupGetXMLDesc(ptr, 0), "backup job of domain " + name);
    }

    /** Ends the domain's job (a pull-mode backup ends this way: libvirt removes its exports and scratch). */
    public void abortJob() throws IOException {
      if (lib.virDomainAbortJob(ptr) < 0) {
        throw error("ending the job of domain " + name);
      }
    }

    /** The names of the domain's checkpoints. */
    public List<String> checkpoints() throws IOException {
      PointerByReference out = new PointerByReference();
      int n = lib.virDomainListAllCheckpoints(ptr, out, 0);
      if (n < 0) {
        throw error("checkpoints of domain " + name);
      }
      List<String> names = new ArrayList<>();
      Pointer array = out.getValue();
      if (array != null) {
        for (int i = 0; i < n; i++) {
          Pointer cp = array.getPointer((long) i * jnr.ffi.Runtime.getSystemRuntime().addressSize());
          names.add(lib.virDomainCheckpointGetName(cp));
          lib.virDomainCheckpointFree(cp);
        }
        libc.free(array);
      }
      return names;
    }

    /** Deletes a checkpoint: its bitmap merges into its parent's; with {@code metadataOnly}, libvirt only forgets it. */
    public void deleteCheckpoint(String checkpoint, boolean metadataOnly) throws IOException {
      Pointer cp = lib.virDomainCheckpointLookupByName(ptr, checkpoint, 0);
      if (cp == null) {
        throw error("no checkpoint " + checkpoint + " of domain " + name);
      }
      try {
        if (lib.virDomainCheckpointDelete(cp, metadataOnly ? CHECKPOINT_DELETE_METADATA_ONLY : 0) < 0) {
          throw error("deleting checkpoint " + checkpoint + " of domain " + name);
        }
      } finally {
        lib.virDomainCheckpointFree(cp);
      }
    }

    /** Creates (or with {@code flags} REDEFINE, redefines) a checkpoint from its XML. */
    public void createCheckpoint(String xml, int flags) throws IOException {
      Pointer cp = lib.virDomainCheckpointCreateXML(ptr, xml, flags);
      if (cp == null) {
        throw error("checkpoint of domain " + name);
      }
      lib.virDomainCheckpointFree(cp);
    }

    /** Freezes the guest's filesystems through its agent; the count frozen. */
    public int fsFreeze() throws IOException {
      int n = lib.virDomainFSFreeze(ptr, null, 0, 0);
      if (n < 0) {
        throw error("freezing the filesystems of domain " + name);
      }
      return n;
    }

    public void fsThaw() throws IOException {
      if (lib.virDomainFSThaw(ptr, null, 0, 0) < 0) {
        throw error("thawing the filesystems of domain " + name);
      }
    }

    @Override
    public void close() {
      lib.virDomainFree(ptr);
    }
  }
}
