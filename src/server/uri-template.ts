/**
 * RFC 6570 URI templates, as MCP resource templates use them: compiled once into a matcher that
 * extracts variables from a concrete URI. Supports simple `{var}`, reserved `{+var}`, fragment
 * `{#var}`, path `{/var}`, label `{.var}` and query `{?a,b}` / `{&a}` expressions.
 */

export type TemplateVariables = Record<string, string | string[]>;

interface Part {
  operator: string;
  names: string[];
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A compiled URI template. */
export class UriTemplate {
  readonly template: string;
  readonly variableNames: string[];
  private readonly regex: RegExp;
  private readonly groups: Part[];

  constructor(template: string) {
    if (template.length > 4096) throw new TypeError('URI template is too long');
    this.template = template;
    this.groups = [];
    let pattern = '^';
    let last = 0;
    const expr = /\{([+#./;?&]?)([^}]+)\}/g;
    for (let m = expr.exec(template); m !== null; m = expr.exec(template)) {
      pattern += escapeRegex(template.slice(last, m.index));
      last = m.index + m[0].length;
      const operator = m[1];
      const names = m[2].split(',').map((n) => n.replace(/\*$|:\d+$/, '').trim());
      if (operator === '?' || operator === '&') {
        // Query parameters are matched separately, in any order; the regex only skips them.
        pattern += '(\\?[^#]*|&[^#]*)?';
        this.groups.push({ operator, names });
        continue;
      }
      const prefix = operator === '+' ? '' : operator === ';' ? ';' : operator;
      const body = operator === '+' || operator === '#' ? '[^?#]*' : operator === '/' ? '[^?#]*' : '[^/?#,]*';
      pattern += `${escapeRegex(prefix)}(${body})`;
      this.groups.push({ operator, names });
    }
    pattern += `${escapeRegex(template.slice(last))}$`;
    this.regex = new RegExp(pattern);
    this.variableNames = this.groups.flatMap((g) => g.names);
  }

  /** Returns the variables when `uri` matches this template, otherwise undefined. */
  match(uri: string): TemplateVariables | undefined {
    const m = this.regex.exec(uri);
    if (!m) return undefined;
    const vars: TemplateVariables = {};
    this.groups.forEach((part, i) => {
      const raw = m[i + 1];
      if (raw === undefined) return;
      if (part.operator === '?' || part.operator === '&') {
        const params = new URLSearchParams(raw.slice(1));
        for (const name of part.names) {
          const value = params.get(name);
          if (value !== null) vars[name] = value;
        }
        return;
      }
      const values = raw.split(',');
      if (part.names.length === 1) {
        const decoded = values.map(safeDecode);
        vars[part.names[0]] = decoded.length === 1 ? decoded[0] : decoded;
      } else {
        part.names.forEach((name, j) => {
          if (values[j] !== undefined) vars[name] = safeDecode(values[j]);
        });
      }
    });
    return vars;
  }

  /** Expands the template with the given variables (simple and reserved expansion). */
  expand(vars: Record<string, string>): string {
    return this.template.replace(/\{([+#./;?&]?)([^}]+)\}/g, (_all, op: string, list: string) => {
      const names = list.split(',').map((n) => n.trim());
      const enc = (v: string) => (op === '+' || op === '#' ? encodeURI(v) : encodeURIComponent(v));
      if (op === '?' || op === '&') {
        const pairs = names
          .filter((n) => vars[n] !== undefined)
          .map((n) => `${n}=${encodeURIComponent(vars[n])}`);
        return pairs.length ? (op === '?' ? '?' : '&') + pairs.join('&') : '';
      }
      const values = names.filter((n) => vars[n] !== undefined).map((n) => enc(vars[n]));
      const prefix = op === '+' ? '' : op;
      return values.length ? prefix + values.join(',') : '';
    });
  }

  toString(): string {
    return this.template;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
