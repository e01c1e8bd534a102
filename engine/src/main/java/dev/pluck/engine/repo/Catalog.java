package dev.pluck.engine.repo;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.MappingIterator;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/** A volume's file catalog: JSON lines of {@link CatalogEntry}, stored as a {@link ChunkedStream}. */
public final class Catalog {
  private Catalog() {}

  /** Appends entries; {@link #finish} stores the last chunk and names them all. */
  public static final class Writer {
    private final ChunkedStream.Writer out;
    private final JsonGenerator json;
    private long entries;

    public Writer(Repository repo) throws IOException {
      out = new ChunkedStream.Writer(repo);
      json = Repository.JSON.getFactory().createGenerator(out).disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
      json.setRootValueSeparator(new com.fasterxml.jackson.core.io.SerializedString("\n"));
    }

    public void add(CatalogEntry e) throws IOException {
      Repository.JSON.writeValue(json, e);
      entries++;
    }

    public long entries() {
      return entries;
    }

    public List<String> finish() throws IOException {
      json.flush();
      return out.finish();
    }
  }

  /** Receives catalog entries in the order they were written. */
  public interface Visitor {
    void visit(CatalogEntry e) throws IOException;
  }

  public static void read(Repository repo, List<String> chunks, Visitor visitor) throws IOException {
    try (InputStream in = ChunkedStream.reader(repo, chunks);
        MappingIterator<CatalogEntry> it = Repository.JSON.readerFor(CatalogEntry.class).readValues(in)) {
      while (it.hasNextValue()) {
        visitor.visit(it.nextValue());
      }
    }
  }
}
