package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** An asynchronous QMP event: JOB_STATUS_CHANGE, BLOCK_JOB_COMPLETED, BLOCK_EXPORT_DELETED, ... */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {}
