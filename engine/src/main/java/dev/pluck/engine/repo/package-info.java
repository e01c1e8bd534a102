/**
 * The backup repository: content-addressed, compressed chunks in self-describing pack files, an
 * index rebuilt from packs when lost, immutable snapshot manifests committed last, all through a
 * small {@link dev.pluck.engine.repo.Storage} interface that a local directory or an object store
 * implements. The layout is documented in docs/FORMAT.md.
 */
package dev.pluck.engine.repo;
