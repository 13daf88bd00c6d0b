import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The demo's tools do real work on local files, so the audit trail describes real side
 * effects: a SQLite database row is updated and an email lands in an outbox directory.
 */
export class HelpdeskTools {
  readonly #db: Database.Database;
  readonly #outbox: string;

  constructor(workDir: string) {
    mkdirSync(workDir, { recursive: true });
    this.#outbox = join(workDir, 'outbox');
    mkdirSync(this.#outbox, { recursive: true });
    this.#db = new Database(join(workDir, 'helpdesk.db'));
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, status TEXT NOT NULL, updated_at TEXT NOT NULL)',
    );
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS refunds (id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, amount REAL NOT NULL, idempotency_key TEXT UNIQUE NOT NULL)',
    );
    this.#db.exec('CREATE TABLE IF NOT EXISTS accounts (customer_id TEXT PRIMARY KEY)');
  }

  searchKnowledgeBase(query: string): { articles: { id: string; title: string }[] } {
    const articles = [
      { id: 'kb-101', title: 'Resetting a locked account' },
      { id: 'kb-214', title: 'Two-factor codes not arriving' },
      { id: 'kb-377', title: 'Refund timelines' },
    ];
    const words = query.toLowerCase().split(/\W+/).filter(Boolean);
    return {
      articles: articles.filter((a) => words.some((w) => a.title.toLowerCase().includes(w))),
    };
  }

  updateTicket(ticketId: string, status: string): { ticketId: string; status: string } {
    this.#db
      .prepare(
        'INSERT INTO tickets (id, status, updated_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at',
      )
      .run(ticketId, status, new Date().toISOString());
    return { ticketId, status };
  }

  /** Idempotent by key: a retried call returns the refund it already made. */
  issueRefund(orderId: string, amount: number, idempotencyKey: string): { refundId: string } {
    this.#db
      .prepare(
        'INSERT INTO refunds (order_id, amount, idempotency_key) VALUES (?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING',
      )
      .run(orderId, amount, idempotencyKey);
    const row = this.#db
      .prepare('SELECT id FROM refunds WHERE idempotency_key = ?')
      .get(idempotencyKey) as { id: number };
    return { refundId: `refund/${row.id}` };
  }

  closeCustomerAccount(customerId: string): { closed: boolean } {
    const { changes } = this.#db
      .prepare('DELETE FROM accounts WHERE customer_id = ?')
      .run(customerId);
    return { closed: changes > 0 };
  }

  sendEmail(to: string, subject: string, body: string): { messageId: string } {
    const messageId = `msg-${Date.now().toString(36)}`;
    writeFileSync(
      join(this.#outbox, `${messageId}.eml`),
      `To: ${to}\nSubject: ${subject}\n\n${body}\n`,
    );
    return { messageId };
  }

  close(): void {
    this.#db.close();
  }
}
