/**
 * RFC 6570 URI templates, as MCP resource templates use them: parsed once, then expanded with
 * variables or matched against a concrete URI to extract them. Supports the level 3 expressions:
 * simple `{a,b}`, reserved `{+a}`, fragment `{#a}`, label `{.a}`, path `{/a,b}`, path parameter
 * `{;a}`, query `{?a,b}` and query continuation `{&a}`.
 */

export type TemplateVariables = Record<string, string | string[]>;

/**
 * Longer URIs never match. Clients choose the URI (resources/read, resources/subscribe), so this
 * bounds the work one request can cause; real resource URIs are far shorter.
 */
const MAX_URI_LENGTH = 2048;

/** How an operator expands (RFC 6570 appendix A), and where its text ends when matching. */
interface Operator {
  /** Written before the first value. */
  first: string;
  /** Written between values. */
  separator: string;
  /** Values are written `name=value`, so they are matched by name rather than position. */
  named: boolean;
  /** Reserved characters such as `/` are not encoded. */
  reserved: boolean;
  /** A URI without the expression still matches: a query may be left out. */
  optional: boolean;
  /** Characters the expression's text cannot contain. */
  stops: string;
  /**
   * The text may span path segments, so it runs to the last place the rest of the template can
   * start (`{+dir}/{name}`); other expressions end at the first (`{year}-{month}`).
   */
  greedy: boolean;
}

const defineOperator = (first: string, separator: string, stops: string, flags: Partial<Operator> = {}) => ({
  first,
  separator,
  stops,
  named: false,
  reserved: false,
  optional: false,
  greedy: false,
  ...flags,
});

const OPERATORS: Record<string, Operator> = {
  '': defineOperator('', ',', '/?#'),
  '+': defineOperator('', ',', '?#', { reserved: true, greedy: true }),
  '#': defineOperator('#', ',', '?#', { reserved: true, greedy: true }),
  '.': defineOperator('.', '.', '/?#'),
  '/': defineOperator('/', '/', '?#', { greedy: true }),
  ';': defineOperator(';', ';', '/?#', { named: true }),
  '?': defineOperator('?', '&', '#', { named: true, optional: true }),
  '&': defineOperator('&', '&', '#', { named: true, optional: true }),
};

interface Expression {
  operator: Operator;
  names: string[];
}

/**
 * A compiled URI template. Matching walks the URI once and never backtracks: each expression's
 * text ends at one place, found by a single search for what follows it, so matching time grows
 * linearly with the URI (a backtracking regex took cubic time on `{a}-{b}-{c}`).
 */
export class UriTemplate {
  readonly template: string;
  readonly variableNames: string[];
  /** The text around the expressions: `literals[i]` comes before `expressions[i]`. */
  private readonly literals: string[] = [];
  private readonly expressions: Expression[] = [];
  /**
   * Per expression: whether its text runs to the last place what follows it can start rather than
   * the first — for operators that span segments, and for any other whose following literal appears
   * nowhere later in the template (`{name}.{ext}` on `archive.tar.gz` gives ext `gz`, as a greedy
   * match would; `{year}-{month}-{day}` still splits at each `-`).
   */
  private readonly toLast: boolean[] = [];

  constructor(template: string) {
    if (template.length > 4096) throw new TypeError('URI template is too long');
    this.template = template;
    let last = 0;
    const expr = /\{([+#./;?&]?)([^}]+)\}/g;
    for (let m = expr.exec(template); m !== null; m = expr.exec(template)) {
      this.literals.push(template.slice(last, m.index));
      last = m.index + m[0].length;
      // Level 4 modifiers (`*`, `:3`) are accepted but ignored.
      const names = m[2].split(',').map((n) => n.replace(/\*$|:\d+$/, '').trim());
      this.expressions.push({ operator: OPERATORS[m[1]], names });
    }
    this.literals.push(template.slice(last));
    this.variableNames = this.expressions.flatMap((e) => e.names);
    this.expressions.forEach(({ operator }, i) => {
      const next = this.literals[i + 1];
      const later = this.literals.slice(i + 2, this.expressions.length).join('');
      this.toLast.push(operator.greedy || (next !== '' && !later.includes(next)));
    });
  }

  /** Returns the variables when `uri` matches this template, otherwise undefined. */
  match(uri: string): TemplateVariables | undefined {
    if (uri.length > MAX_URI_LENGTH) return undefined;
    const { literals, expressions } = this;
    const head = literals[0];
    // The final literal must end the URI, so it is set aside and the last expression runs up to it.
    const tail = expressions.length > 0 ? literals[expressions.length] : '';
    const end = uri.length - tail.length;
    if (end < head.length || !uri.startsWith(head) || !uri.endsWith(tail)) return undefined;
    const vars: TemplateVariables = {};
    let pos = head.length;
    for (let i = 0; i < expressions.length; i++) {
      const { operator, names } = expressions[i];
      if (uri.startsWith(operator.first, pos)) {
        pos += operator.first.length;
        const textEnd = this.textEnd(i, uri, pos, end);
        readValues(operator, names, uri.slice(pos, textEnd), vars);
        pos = textEnd;
      } else if (!operator.optional) {
        return undefined;
      }
      const literal = i + 1 < expressions.length ? literals[i + 1] : '';
      if (!uri.startsWith(literal, pos)) return undefined;
      pos += literal.length;
    }
    return pos === end ? vars : undefined;
  }

  /** Where the text of expression `i`, starting at `from`, ends: the one place it is tried. */
  private textEnd(i: number, uri: string, from: number, end: number): number {
    const { stops } = this.expressions[i].operator;
    const greedy = this.toLast[i];
    let run = from;
    while (run < end && !stops.includes(uri[run])) run++;
    // What follows: the next literal, else the next expression's first character.
    const next =
      (i + 1 < this.expressions.length && this.literals[i + 1]) || this.expressions[i + 1]?.operator.first;
    if (!next) return run;
    const last = Math.min(run, end - next.length);
    const at = greedy ? uri.lastIndexOf(next, last) : uri.indexOf(next, from);
    // When it is not there, the caller's checks of what follows fail (or skip an optional query).
    return at >= from && at <= last ? at : run;
  }

  /** Expands the template with the given variables (RFC 6570 level 3); undefined ones are left out. */
  expand(vars: Record<string, string>): string {
    let uri = this.literals[0];
    this.expressions.forEach(({ operator, names }, i) => {
      const values = names
        .filter((name) => vars[name] !== undefined)
        .map((name) => {
          // encodeURI also encodes `%`, where the RFC passes `%XX` through, so match() gives back the value.
          const value = (operator.reserved ? encodeURI : encodeURIComponent)(vars[name]);
          if (!operator.named) return value;
          // RFC 6570 section 3.2.7: an empty path parameter is `;name`, an empty query one `name=`.
          return value === '' && operator.first === ';' ? name : `${name}=${value}`;
        });
      if (values.length > 0) uri += operator.first + values.join(operator.separator);
      uri += this.literals[i + 1];
    });
    return uri;
  }

  toString(): string {
    return this.template;
  }
}

/** Stores the values in one expression's matched text under its variable names. */
function readValues(operator: Operator, names: string[], text: string, vars: TemplateVariables): void {
  const items = text.split(operator.separator);
  if (operator.named) {
    for (const item of items) {
      const eq = item.indexOf('=');
      const name = safeDecode(eq < 0 ? item : item.slice(0, eq));
      // Names the template lacks are ignored; the first value wins, as with URLSearchParams.get.
      if (names.includes(name) && !Object.hasOwn(vars, name)) {
        vars[name] = eq < 0 ? '' : safeDecode(item.slice(eq + 1));
      }
    }
    return;
  }
  // Values fill the variables in order; the last takes the rest, so `{/path}` keeps its slashes.
  names.forEach((name, j) => {
    if (j >= items.length) return;
    vars[name] = safeDecode(j === names.length - 1 ? items.slice(j).join(operator.separator) : items[j]);
  });
}

/** Percent-decodes as RFC 3986 does: unlike form decoding, `+` stays `+`. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
