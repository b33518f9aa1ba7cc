/**
 * The store's after-commit hooks: side effects outside the database run only once a transaction
 * commits, never after a rollback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCommit } from "../src/store/db";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";

class Rollback extends Error {}

describe.each(storeKinds)("after-commit hooks on %s", (kind) => {
  let store: MigratedDb;
  beforeAll(async () => {
    store = await openMigratedDb(kind);
  });
  afterAll(async () => {
    await store.close();
  });

  it("run after COMMIT, in order, never after ROLLBACK; nested transactions join the outer one", async () => {
    const ran: string[] = [];
    await store.db.transaction(async (tx) => {
      onCommit(tx, () => ran.push("first"));
      await tx.transaction(async (inner) => onCommit(inner, () => ran.push("nested")));
      await tx.query("SELECT 1");
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(["first", "nested"]);

    await expect(
      store.db.transaction(async (tx) => {
        onCommit(tx, () => ran.push("rolled back"));
        throw new Rollback("no");
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(ran).toEqual(["first", "nested"]);

    onCommit(store.db, () => ran.push("autocommit"));
    expect(ran).toEqual(["first", "nested", "autocommit"]);
  });

  it("a hook that throws neither hides the commit nor stops the other hooks", async () => {
    const ran: string[] = [];
    const value = await store.db.transaction(async (tx) => {
      onCommit(tx, () => {
        throw new Error("hook broke");
      });
      onCommit(tx, () => ran.push("second"));
      return 42;
    });
    expect(value).toBe(42);
    expect(ran).toEqual(["second"]);
  });
});
