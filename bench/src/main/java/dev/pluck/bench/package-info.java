/**
 * Benchmarks of pluck against peers measured in the same run; run on demand, never in the test suite.
 */
package dev.pluck.bench;
