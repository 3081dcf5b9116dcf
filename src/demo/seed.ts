// Fake but realistic data for the demo database: customers with emails, phone numbers and
// card numbers (the things masking must catch), products and orders. Deterministic: the
// same seed always yields the same rows, so the printed guide and tests can rely on them.
//
// Nothing here belongs to a real person: emails use the reserved example.* domains, phone
// numbers use ranges set aside for fiction where a country has one (US/CA 555-01xx, UK
// 020 7946 0xxx, AU 02 5550 xxxx, FR 01 99 00 xx xx), and card numbers use well-known test
// card prefixes with a valid Luhn check digit, so detectors see them as cards.

export const DEMO_SEED = 20240601;

export interface DemoProduct {
  id: number;
  sku: string;
  name: string;
  category: string;
  /** Price with two decimals, as text (numeric). */
  price: string;
}

export interface DemoCustomer {
  id: number;
  name: string;
  email: string;
  /** International format, e.g. `+44 20 7946 0123`. */
  phone: string;
  /** Digits only; passes the Luhn check. */
  cardNumber: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** ISO 8601, UTC. */
  createdAt: string;
}

export interface DemoOrder {
  id: number;
  customerId: number;
  productId: number;
  quantity: number;
  amount: string;
  status: string;
  createdAt: string;
}

export interface DemoData {
  products: DemoProduct[];
  customers: DemoCustomer[];
  orders: DemoOrder[];
}

export const DEMO_COUNTS = { products: 12, customers: 50, orders: 200 } as const;

/** mulberry32: tiny, fast, good enough for fake data, and identical on every platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_NAMES = [
  'Amelia', 'Oliver', 'Sofia', 'Liam', 'Chloé', 'Mateo', 'Hannah', 'Noah', 'Aisha', 'Lucas',
  'Yuki', 'Emma', 'Kwame', 'Mia', 'Arjun', 'Léa', 'Jonas', 'Priya', 'Diego', 'Freya',
  'Tomasz', 'Isabel', 'Kenji', 'Zoe', 'Rafael', 'Ingrid', 'Omar', 'Clara', 'Sven', 'Nadia',
  'Ethan', 'Lucía', 'Finn', 'Ananya', 'Hugo', 'Elif', 'Marco', 'Saoirse', 'Felix', 'Amara',
];
const LAST_NAMES = [
  'Smith', 'Müller', 'García', 'Rossi', 'Dubois', 'Jansen', 'Kowalski', 'Tanaka', 'Okafor', 'Patel',
  'Johansson', "O'Brien", 'Silva', 'Nguyen', 'Fischer', 'Martin', 'López', 'Bakker', 'Ivanova', 'Brown',
  'Moreau', 'Schmidt', 'Costa', 'Sato', 'Mensah', 'Sharma', 'Lindqvist', 'Walsh', 'Romero', 'Taylor',
];

interface Country {
  code: string;
  weight: number;
  phone: (digits: (n: number) => string) => string;
}

const COUNTRIES: Country[] = [
  { code: 'US', weight: 10, phone: (d) => `+1 ${pick3(d, ['202', '212', '312', '415', '512', '617'])} 555 01${d(2)}` },
  { code: 'GB', weight: 8, phone: (d) => `+44 20 7946 0${d(3)}` },
  { code: 'DE', weight: 7, phone: (d) => `+49 30 ${d(4)} ${d(4)}` },
  { code: 'FR', weight: 6, phone: (d) => `+33 1 99 00 ${d(2)} ${d(2)}` },
  { code: 'NL', weight: 4, phone: (d) => `+31 20 ${d(3)} ${d(4)}` },
  { code: 'ES', weight: 4, phone: (d) => `+34 91 ${d(3)} ${d(2)} ${d(2)}` },
  { code: 'CA', weight: 3, phone: (d) => `+1 ${pick3(d, ['416', '604', '514'])} 555 01${d(2)}` },
  { code: 'AU', weight: 3, phone: (d) => `+61 2 5550 ${d(4)}` },
  { code: 'JP', weight: 2, phone: (d) => `+81 3 ${d(4)} ${d(4)}` },
  { code: 'BR', weight: 2, phone: (d) => `+55 11 9${d(4)} ${d(4)}` },
];

// Test-card prefixes published by card networks and payment providers for testing.
const CARD_PREFIXES: { prefix: string; length: number }[] = [
  { prefix: '411111', length: 16 }, // Visa
  { prefix: '424242', length: 16 }, // Visa
  { prefix: '401288', length: 16 }, // Visa
  { prefix: '555555', length: 16 }, // Mastercard
  { prefix: '510510', length: 16 }, // Mastercard
  { prefix: '222300', length: 16 }, // Mastercard 2-series
  { prefix: '378282', length: 15 }, // American Express
  { prefix: '371449', length: 15 }, // American Express
  { prefix: '601111', length: 16 }, // Discover
];

const PRODUCTS: Omit<DemoProduct, 'id' | 'sku'>[] = [
  { name: 'Trail running shoes', category: 'footwear', price: '129.00' },
  { name: 'Merino base layer', category: 'apparel', price: '74.50' },
  { name: 'Rain shell jacket', category: 'apparel', price: '189.99' },
  { name: 'Insulated bottle 750 ml', category: 'accessories', price: '32.00' },
  { name: 'Headlamp 400 lm', category: 'accessories', price: '45.90' },
  { name: 'Ultralight tent 2P', category: 'camping', price: '449.00' },
  { name: 'Down sleeping bag', category: 'camping', price: '329.00' },
  { name: 'Trekking poles', category: 'accessories', price: '89.00' },
  { name: 'Daypack 22 l', category: 'bags', price: '99.00' },
  { name: 'Camp stove', category: 'camping', price: '64.95' },
  { name: 'Wool hiking socks (3 pack)', category: 'apparel', price: '27.00' },
  { name: 'First aid kit', category: 'accessories', price: '39.50' },
];

const ORDER_STATUSES: { status: string; weight: number }[] = [
  { status: 'delivered', weight: 50 },
  { status: 'shipped', weight: 15 },
  { status: 'paid', weight: 12 },
  { status: 'pending', weight: 10 },
  { status: 'cancelled', weight: 8 },
  { status: 'refunded', weight: 5 },
];

export const ORDER_STATUS_VALUES: readonly string[] = ORDER_STATUSES.map((s) => s.status);

function pick3(d: (n: number) => string, options: string[]): string {
  return options[Number(d(1)) % options.length]!;
}

/** The Luhn check digit for `payload` (digits only, without the check digit). */
export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  // Walking from the right, the digit next to the (future) check digit is doubled first.
  for (let i = payload.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = payload.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** Whether a digit string passes the Luhn checksum used by payment cards. */
export function luhnValid(number: string): boolean {
  if (!/^\d{2,}$/.test(number)) return false;
  return luhnCheckDigit(number.slice(0, -1)) === Number(number.at(-1));
}

function asciiLocalPart(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

export function generateDemoData(seed: number = DEMO_SEED): DemoData {
  const random = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const weighted = <T extends { weight: number }>(items: readonly T[]): T => {
    const total = items.reduce((n, item) => n + item.weight, 0);
    let r = random() * total;
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item;
    }
    return items[items.length - 1]!;
  };
  const digits = (n: number) => Array.from({ length: n }, () => String(int(0, 9))).join('');

  const products = PRODUCTS.map((p, i) => ({ id: i + 1, sku: `SKU-${1001 + i}`, ...p }));

  const customerStart = Date.UTC(2023, 0, 1);
  const customerSpan = Date.UTC(2024, 11, 31) - customerStart;
  const orderEnd = Date.UTC(2025, 5, 30);
  const emails = new Set<string>();
  const customers: DemoCustomer[] = [];
  for (let id = 1; id <= DEMO_COUNTS.customers; id++) {
    const first = pick(FIRST_NAMES);
    const last = pick(LAST_NAMES);
    const country = weighted(COUNTRIES);
    const domain = pick(['example.com', 'example.org', 'example.net']);
    let local = `${asciiLocalPart(first)}.${asciiLocalPart(last)}`;
    for (let n = 2; emails.has(`${local}@${domain}`); n++) local = `${asciiLocalPart(first)}.${asciiLocalPart(last)}${n}`;
    emails.add(`${local}@${domain}`);
    const card = pick(CARD_PREFIXES);
    const payload = card.prefix + digits(card.length - card.prefix.length - 1);
    customers.push({
      id,
      name: `${first} ${last}`,
      email: `${local}@${domain}`,
      phone: country.phone(digits),
      cardNumber: payload + String(luhnCheckDigit(payload)),
      country: country.code,
      createdAt: isoSeconds(customerStart + Math.floor(random() * customerSpan)),
    });
  }

  const orders: DemoOrder[] = [];
  for (let id = 1; id <= DEMO_COUNTS.orders; id++) {
    const customer = pick(customers);
    const product = pick(products);
    const quantity = weighted([
      { q: 1, weight: 60 },
      { q: 2, weight: 25 },
      { q: 3, weight: 10 },
      { q: 4, weight: 5 },
    ]).q;
    const from = Date.parse(customer.createdAt);
    const cents = Math.round(Number(product.price) * 100) * quantity;
    orders.push({
      id,
      customerId: customer.id,
      productId: product.id,
      quantity,
      amount: (cents / 100).toFixed(2),
      status: weighted(ORDER_STATUSES).status,
      createdAt: isoSeconds(from + Math.floor(random() * (orderEnd - from))),
    });
  }
  // Orders are numbered in time order, as a real system would have done.
  orders.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  orders.forEach((order, i) => (order.id = i + 1));

  return { products, customers, orders };
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function lit(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/'/g, "''")}'`;
}

function insert(table: string, columns: string[], rows: (string | number)[][]): string {
  const values = rows.map((row) => `  (${row.map(lit).join(', ')})`).join(',\n');
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES\n${values};`;
}

/** SQL that creates and fills the demo schema in one transaction. */
export function demoSeedSql(data: DemoData = generateDemoData()): string {
  return [
    'BEGIN;',
    `CREATE TABLE products (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  category text NOT NULL,
  price numeric(10,2) NOT NULL CHECK (price >= 0)
);`,
    `CREATE TABLE customers (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  phone text NOT NULL,
  card_number text NOT NULL,
  country char(2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`,
    `CREATE TABLE orders (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  product_id integer NOT NULL REFERENCES products(id),
  quantity integer NOT NULL CHECK (quantity > 0),
  amount numeric(10,2) NOT NULL,
  status text NOT NULL CHECK (status IN (${ORDER_STATUS_VALUES.map(lit).join(', ')})),
  created_at timestamptz NOT NULL DEFAULT now()
);`,
    'CREATE INDEX orders_customer_id_idx ON orders (customer_id);',
    insert(
      'products',
      ['id', 'sku', 'name', 'category', 'price'],
      data.products.map((p) => [p.id, p.sku, p.name, p.category, p.price]),
    ),
    insert(
      'customers',
      ['id', 'name', 'email', 'phone', 'card_number', 'country', 'created_at'],
      data.customers.map((c) => [c.id, c.name, c.email, c.phone, c.cardNumber, c.country, c.createdAt]),
    ),
    insert(
      'orders',
      ['id', 'customer_id', 'product_id', 'quantity', 'amount', 'status', 'created_at'],
      data.orders.map((o) => [o.id, o.customerId, o.productId, o.quantity, o.amount, o.status, o.createdAt]),
    ),
    // Explicit ids do not advance identity sequences; do it so demo INSERTs work.
    ...['products', 'customers', 'orders'].map(
      (t) => `SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}));`,
    ),
    'COMMIT;',
  ].join('\n');
}
