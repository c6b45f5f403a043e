// Types of scripts/otel-docs.mjs, for the tests that import it.
import type { MetricDefinition } from '../src/otel/metrics.js';

export declare const START: string;
export declare const END: string;
/** The name @opentelemetry/exporter-prometheus gives `metric` (a histogram's series add `_bucket`, `_count`, `_sum`). */
export declare function prometheusName(metric: MetricDefinition): string;
/** The generated table, markers included. */
export declare function table(): string;
/** `markdown` with the part between the markers replaced by a fresh table. */
export declare function regenerate(markdown: string): string;
