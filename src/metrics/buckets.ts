/**
 * Histogram buckets, in seconds. Actions range from an echo (tens of microseconds) to an
 * approval-gated or long-running tool call (minutes), so the action buckets span 100 µs to
 * 5 min roughly ×2.5 apart; audit flushes range from a memory append to a COPY of a full batch.
 */
export const ACTION_DURATION_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
  120, 300,
];

export const FLUSH_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const HTTP_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
