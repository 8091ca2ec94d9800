/**
 * Request metrics recorded as plain numbers and handed to prom-client when the registry is scraped.
 * prom-client hashes the label set on every `inc()` and `observe()` (its `labels()` children do the
 * same, bound), which measured ~10 µs a request for one counter, one histogram and the traffic
 * counters. Here each label set is resolved once to a cell; recording is an addition.
 */
import type * as Prom from 'prom-client';

type Labels = Record<string, string>;

/** One label set of a counter: add to `pending`; the scrape moves it into the prom-client Counter. */
export interface CounterCell {
  readonly labels: Labels;
  pending: number;
}

/** A prom-client Counter whose hot label sets are counted in cells, flushed at scrape time. */
export class CounterCells {
  readonly counter: Prom.Counter<string>;
  private readonly cells: CounterCell[] = [];

  constructor(
    prom: typeof Prom,
    options: {
      name: string;
      help: string;
      labelNames: string[];
      registry: Prom.Registry;
      /** Called at scrape time before the cells are read (to bring them up to date). */
      refresh?: () => void;
    },
  ) {
    const cells = this.cells;
    const refresh = options.refresh;
    this.counter = new prom.Counter({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames,
      registers: [options.registry],
      collect() {
        refresh?.();
        for (const cell of cells) {
          if (cell.pending === 0) continue;
          this.inc(cell.labels, cell.pending);
          cell.pending = 0;
        }
      },
    });
    // A registry reset drops what the cells hold too.
    const reset = this.counter.reset.bind(this.counter);
    this.counter.reset = () => {
      for (const cell of cells) cell.pending = 0;
      reset();
    };
  }

  /** A cell for one label set. Keep it: the number of cells is the number of label sets asked for. */
  cell(labels: Labels): CounterCell {
    const cell = { labels, pending: 0 };
    this.cells.push(cell);
    return cell;
  }
}

/** One label set of a histogram. */
export class HistogramCell {
  /** Observations per bucket (not cumulative); the last is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram registered with a prom-client Registry as a metric of its own: it answers `get()` with
 * the values a prom-client Histogram would (cumulative `_bucket` lines with `le`, `_sum`, `_count`),
 * so exposition, JSON and merging are prom-client's.
 */
export class HistogramCells {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: number[];
  private readonly cells: HistogramCell[] = [];

  constructor(options: { name: string; help: string; buckets: number[]; registry: Prom.Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    options.registry.registerMetric(this as unknown as Prom.Metric<string>);
  }

  /** A cell for one label set. Keep it: the number of cells is the number of label sets asked for. */
  cell(labels: Labels): HistogramCell {
    const cell = new HistogramCell(labels, this.bounds);
    this.cells.push(cell);
    return cell;
  }

  /** What a prom-client Histogram's `get()` answers (its typings name `type` an enum; it is a string). */
  get(): {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Prom.MetricValueWithName<string>[];
  } {
    const values: Prom.MetricValueWithName<string>[] = [];
    for (const cell of this.cells) {
      if (cell.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += cell.counts[i];
        const le = i < this.bounds.length ? this.bounds[i] : '+Inf';
        values.push({ labels: { le, ...cell.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    for (const cell of this.cells) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
