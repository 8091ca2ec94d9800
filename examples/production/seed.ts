/** The reference server's small dataset: a shop's customers, products and orders. */

export const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.customers (
  id integer PRIMARY KEY,
  name text NOT NULL,
  country text NOT NULL,
  joined date NOT NULL
);
CREATE TABLE IF NOT EXISTS shop.products (
  id integer PRIMARY KEY,
  name text NOT NULL,
  category text NOT NULL,
  price_cents integer NOT NULL
);
CREATE TABLE IF NOT EXISTS shop.orders (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES shop.customers(id),
  product_id integer NOT NULL REFERENCES shop.products(id),
  quantity integer NOT NULL,
  ordered_at date NOT NULL
);
`;

const customers = [
  [1, 'Ada Lovelace', 'GB', '2024-01-15'],
  [2, 'Grace Hopper', 'US', '2024-02-03'],
  [3, 'Edsger Dijkstra', 'NL', '2024-02-20'],
  [4, 'Barbara Liskov', 'US', '2024-03-11'],
  [5, 'Tim Berners-Lee', 'GB', '2024-04-02'],
  [6, 'Margaret Hamilton', 'US', '2024-05-19'],
  [7, 'Niklaus Wirth', 'CH', '2024-06-07'],
  [8, 'Frances Allen', 'US', '2024-07-23'],
];
const products = [
  [1, 'Mechanical keyboard', 'hardware', 12900],
  [2, 'Noise-cancelling headphones', 'hardware', 24900],
  [3, 'USB-C dock', 'hardware', 8900],
  [4, 'Code editor licence', 'software', 9900],
  [5, 'Cloud credits (100)', 'services', 10000],
  [6, 'Technical book bundle', 'books', 5900],
];

/** Deterministic orders: enough rows for aggregates to mean something. */
function orders(): (string | number)[][] {
  const out: (string | number)[][] = [];
  for (let id = 1; id <= 60; id++) {
    const customer = ((id * 7) % customers.length) + 1;
    const product = ((id * 5) % products.length) + 1;
    const quantity = (id % 4) + 1;
    const month = String(((id * 3) % 12) + 1).padStart(2, '0');
    const day = String(((id * 11) % 28) + 1).padStart(2, '0');
    out.push([id, customer, product, quantity, `2025-${month}-${day}`]);
  }
  return out;
}

const values = (rows: (string | number)[][]) =>
  rows
    .map((r) => `(${r.map((v) => (typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`)).join(', ')})`)
    .join(',\n');

export const SEED = `
INSERT INTO shop.customers VALUES ${values(customers)} ON CONFLICT (id) DO NOTHING;
INSERT INTO shop.products VALUES ${values(products)} ON CONFLICT (id) DO NOTHING;
INSERT INTO shop.orders VALUES ${values(orders())} ON CONFLICT (id) DO NOTHING;
`;
