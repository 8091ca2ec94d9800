/** RFC 6570 resource templates: expansion, matching, and matching a hostile URI cheaply. */
import { describe, expect, it } from 'vitest';
import { UriTemplate } from '../../src/index.js';

const roundTrips: { template: string; vars: Record<string, string>; uri: string }[] = [
  { template: 'map://{lat,lng}', vars: { lat: '1', lng: '2' }, uri: 'map://1,2' },
  { template: 'a://{id}', vars: { id: 'a,b' }, uri: 'a://a%2Cb' },
  { template: 'file:///{+path}', vars: { path: 'a/b c.txt' }, uri: 'file:///a/b%20c.txt' },
  { template: 'page://x{#section}', vars: { section: 'intro' }, uri: 'page://x#intro' },
  { template: 'doc://x{.ext}', vars: { ext: 'json' }, uri: 'doc://x.json' },
  { template: 'doc://{name}{.ext}', vars: { name: 'readme', ext: 'md' }, uri: 'doc://readme.md' },
  {
    template: 'api://x{/version,resource}',
    vars: { version: 'v1', resource: 'users' },
    uri: 'api://x/v1/users',
  },
  { template: 'doc://x{;id}', vars: { id: '42' }, uri: 'doc://x;id=42' },
  { template: 'doc://x{;a,b}', vars: { a: '1', b: '' }, uri: 'doc://x;a=1;b' },
  {
    template: 'search://q{?term,limit}',
    vars: { term: 'c++', limit: '10' },
    uri: 'search://q?term=c%2B%2B&limit=10',
  },
  { template: 'search://q?lang=en{&page}', vars: { page: '2' }, uri: 'search://q?lang=en&page=2' },
];

describe('UriTemplate', () => {
  it.each(roundTrips)('expands $template to $uri and matches it back', ({ template, vars, uri }) => {
    const t = new UriTemplate(template);
    expect(t.expand(vars)).toBe(uri);
    expect(t.match(uri)).toEqual(vars);
  });

  it('matches the RFC 6570 forms a client writes by hand', () => {
    expect(new UriTemplate('map://{lat,lng}').match('map://1,2')).toEqual({ lat: '1', lng: '2' });
    expect(new UriTemplate('api://x{/version,resource}').match('api://x/v1/users')).toEqual({
      version: 'v1',
      resource: 'users',
    });
    expect(new UriTemplate('doc://x{;id}').match('doc://x;id=42')).toEqual({ id: '42' });
  });

  it('decodes query values as RFC 3986 does, keeping a literal +', () => {
    const t = new UriTemplate('search://q{?term}');
    expect(t.match('search://q?term=c++')).toEqual({ term: 'c++' });
    expect(t.match('search://q?term=c%2B%2B')).toEqual({ term: 'c++' });
    expect(t.match('search://q?term=a%20b')).toEqual({ term: 'a b' });
  });

  it('ends a simple variable at the first separator and a reserved one at the last', () => {
    expect(
      new UriTemplate('calendar://{year}-{month}-{day}/events').match('calendar://2025-01-02/events'),
    ).toEqual({ year: '2025', month: '01', day: '02' });
    expect(new UriTemplate('file:///{+dir}/{name}').match('file:///a/b/c.txt')).toEqual({
      dir: 'a/b',
      name: 'c.txt',
    });
    expect(new UriTemplate('x://{id}.json').match('x://a.b.json')).toEqual({ id: 'a.b' });
  });

  it('gives a simple variable all it can take when what follows it appears nowhere later, as a greedy match would', () => {
    const file = new UriTemplate('file://{name}.{ext}');
    expect(file.match('file://archive.tar.gz')).toEqual({ name: 'archive.tar', ext: 'gz' });
    expect(file.match(file.expand({ name: 'archive.tar', ext: 'gz' }))).toEqual({
      name: 'archive.tar',
      ext: 'gz',
    });
    expect(new UriTemplate('calendar://{year}-{month}-{day}').match('calendar://2025-01-02')).toEqual({
      year: '2025',
      month: '01',
      day: '02',
    });
  });

  it('does not match URIs longer than 2048 characters', () => {
    const t = new UriTemplate('file:///{+path}');
    const path = 'a'.repeat(2048 - 'file:///'.length);
    expect(t.match(`file:///${path}`)).toEqual({ path });
    expect(t.match(`file:///${path}a`)).toBeUndefined();
  });

  it('matches a hostile URI in one pass instead of backtracking', () => {
    // A backtracking regex tries every way to split the dashes between the variables: cubic time
    // for three variables, quartic for four. These URIs (under the length cap) took it minutes,
    // past the test timeout; a single pass takes microseconds.
    const calendar = new UriTemplate('calendar://{year}-{month}-{day}/events');
    expect(calendar.match(`calendar://${'-'.repeat(2000)}/x`)).toBeUndefined();
    expect(calendar.match(`calendar://${'-'.repeat(2000)}/events`)).toBeDefined();
    const hours = new UriTemplate('calendar://{year}-{month}-{day}-{hour}/events');
    expect(hours.match(`calendar://${'-'.repeat(1000)}/x`)).toBeUndefined();
  });
});
