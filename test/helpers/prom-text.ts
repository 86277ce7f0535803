// A strict reader of the Prometheus text exposition format (0.0.4): every line must be a HELP, a TYPE or a
// sample of the family declared before it; names, label sets, escapes and values as the format defines them;
// histograms with ascending `le` buckets, cumulative counts and a +Inf bucket equal to _count. Throws naming
// the line at the first fault, so a test sees exactly what a scraper would choke on.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** As Go's ParseFloat reads it (the format's own definition): NaN and [+-]Inf(inity) in any case, decimals. */
const SPECIAL = /^(?:nan|[+-]?inf(?:inity)?)$/i;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TIMESTAMP = /^-?\d+$/;
/** The names a family's samples may take, by type. */
const SUFFIXES: Record<string, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name, rest] = match;
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      let family = families.get(name);
      if (family && family !== current) fail('a family must be one contiguous group');
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
        current = family;
      }
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) fail('unknown type');
        if (family.samples.length) fail('TYPE after the samples of its family');
        (family as { type: string }).type = rest;
      } else {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP');
        (family as { help: string }).help = rest;
      }
      return;
    }
    const sample = parseSample(line, fail);
    const owner = current;
    if (!owner || !SUFFIXES[owner.type].some((suffix) => owner.name + suffix === sample.name))
      fail('a sample outside the family declared before it');
    owner!.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) fail('bad sample name');
  const name = nameMatch![0];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const labelMatch = /^([^=]*)="/.exec(line.slice(at));
      if (!labelMatch || !LABEL_NAME.test(labelMatch[1])) fail('bad label name');
      const label = labelMatch![1];
      if (label in labels) fail('repeated label');
      at += labelMatch![0].length;
      let value = '';
      for (;;) {
        const char = line[at++];
        if (char === undefined) fail('unterminated label value');
        if (char === '"') break;
        if (char === '\\') {
          const escaped = line[at++];
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else fail('bad escape in a label value');
        } else value += char;
      }
      labels[label] = value;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') fail('expected , or } after a label');
    }
    at++;
  }
  if (line[at] !== ' ') fail('expected one space before the value');
  const [value, timestamp, ...extra] = line.slice(at + 1).split(' ');
  if (!SPECIAL.test(value ?? '') && !DECIMAL.test(value ?? '')) fail('bad value');
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) fail('bad timestamp');
  if (extra.length) fail('trailing fields');
  return { name, labels, value: numberOf(value) };
}

function numberOf(text: string): number {
  if (!SPECIAL.test(text)) return Number(text);
  if (/nan/i.test(text)) return NaN;
  return text.startsWith('-') ? -Infinity : Infinity;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push([numberOf(le), sample.value]);
    } else if (sample.name.endsWith('_count')) group.count = sample.value;
  }
  for (const [key, { buckets, count }] of groups) {
    const where = `${family.name}${key}`;
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i][0] > buckets[i - 1][0])) throw new Error(`${where}: le not ascending`);
      if (buckets[i][1] < buckets[i - 1][1]) throw new Error(`${where}: bucket counts not cumulative`);
    }
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${count}`);
  }
}

/** The value of the one sample with this name whose labels include `labels`; undefined when none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values())
    for (const sample of family.samples)
      if (sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v))
        return sample.value;
  return undefined;
}
