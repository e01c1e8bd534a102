/**
 * Selection, backup planning and the deduplicating repository.
 */
package dev.pluck.engine;
