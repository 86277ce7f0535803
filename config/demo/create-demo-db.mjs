// Re-creates config/demo/demo.db, the small SQLite database the default config's `sql` server queries:
// `node config/demo/create-demo-db.mjs`. Deterministic, so the checked-in file only changes with this script.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const file = fileURLToPath(new URL('./demo.db', import.meta.url));
rmSync(file, { force: true });
const db = new Database(file);
db.exec(`
  CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, country TEXT NOT NULL);
  CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price_cents INTEGER NOT NULL);
  CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    ordered_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled'))
  );
  CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
  );
  CREATE VIEW order_totals AS
    SELECT o.id AS order_id, c.name AS customer, o.status, SUM(i.quantity * p.price_cents) AS total_cents
    FROM orders o JOIN customers c ON c.id = o.customer_id
    JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
    GROUP BY o.id;
`);
const customers = [
  ['Ada Lovelace', 'ada@example.com', 'GB'],
  ['Grace Hopper', 'grace@example.com', 'US'],
  ['Alan Turing', 'alan@example.com', 'GB'],
  ['Margaret Hamilton', 'margaret@example.com', 'US'],
  ['Edsger Dijkstra', 'edsger@example.com', 'NL'],
  ['Barbara Liskov', 'barbara@example.com', 'US'],
];
const products = [
  ['Mechanical keyboard', 'hardware', 12900],
  ['USB-C hub', 'hardware', 4900],
  ['Monitor arm', 'hardware', 8900],
  ['Code editor licence', 'software', 9900],
  ['Cloud credits (100)', 'services', 10000],
  ['Rubber duck', 'accessories', 500],
];
const insertCustomer = db.prepare('INSERT INTO customers (name, email, country) VALUES (?, ?, ?)');
const insertProduct = db.prepare('INSERT INTO products (name, category, price_cents) VALUES (?, ?, ?)');
const insertOrder = db.prepare('INSERT INTO orders (customer_id, ordered_at, status) VALUES (?, ?, ?)');
const insertItem = db.prepare('INSERT INTO order_items (order_id, product_id, quantity) VALUES (?, ?, ?)');
const statuses = ['pending', 'shipped', 'delivered', 'delivered', 'cancelled'];
db.transaction(() => {
  for (const c of customers) insertCustomer.run(...c);
  for (const p of products) insertProduct.run(...p);
  for (let i = 0; i < 20; i++) {
    const day = String(1 + ((i * 7) % 28)).padStart(2, '0');
    const { lastInsertRowid } = insertOrder.run(
      1 + (i % customers.length),
      `2025-0${1 + (i % 6)}-${day}`,
      statuses[i % statuses.length],
    );
    for (let k = 0; k < 1 + (i % 3); k++)
      insertItem.run(lastInsertRowid, 1 + ((i + k * 2) % products.length), 1 + ((i + k) % 4));
  }
})();
db.pragma('journal_mode = DELETE');
db.close();
console.log(`wrote ${file}`);
