import { isDeepStrictEqual } from 'node:util';
import type { DataSource } from 'typeorm';
import type { Route, RouteFilter } from '@asana-stream/contracts';

/** The channel `asana-stream routes apply|delete` NOTIFYs on, so fanout reloads its routes at once. */
export const ROUTES_CHANNEL = 'asana_stream_routes';

/** A route as stored in `routes`. */
export interface StoredRoute extends Route {
  createdAt: Date;
  updatedAt: Date;
}

/** What applying a set of routes does: names created, updated (their filter changed), deleted, left alone. */
export interface RoutesPlan {
  create: Route[];
  update: { name: string; from: RouteFilter; to: RouteFilter }[];
  delete: string[];
  unchanged: string[];
}

interface RouteRow {
  name: string;
  filter: RouteFilter;
  created_at: Date;
  updated_at: Date;
}

const toRoute = (r: RouteRow): StoredRoute => ({
  name: r.name,
  filter: r.filter,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Every route, by name. */
export async function listRoutes(dataSource: DataSource): Promise<StoredRoute[]> {
  const rows = await dataSource.query<RouteRow[]>(
    /* sql */ `SELECT name, filter, created_at, updated_at FROM routes ORDER BY name`,
  );
  return rows.map(toRoute);
}

/** One route, or null. */
export async function findRoute(dataSource: DataSource, name: string): Promise<StoredRoute | null> {
  const rows = await dataSource.query<RouteRow[]>(
    /* sql */ `SELECT name, filter, created_at, updated_at FROM routes WHERE name = $1`,
    [name],
  );
  return rows[0] ? toRoute(rows[0]) : null;
}

/** What makes `current` into `wanted` (the whole set): pure, so `--dry-run` shows exactly what applying does. */
export function planRoutes(current: readonly Route[], wanted: readonly Route[]): RoutesPlan {
  const existing = new Map(current.map((r) => [r.name, r.filter]));
  const plan: RoutesPlan = { create: [], update: [], delete: [], unchanged: [] };
  for (const route of wanted) {
    const before = existing.get(route.name);
    if (before === undefined) plan.create.push(route);
    else if (isDeepStrictEqual(before, route.filter)) plan.unchanged.push(route.name);
    else plan.update.push({ name: route.name, from: before, to: route.filter });
  }
  const names = new Set(wanted.map((r) => r.name));
  plan.delete = current.filter((r) => !names.has(r.name)).map((r) => r.name);
  return plan;
}

/**
 * Makes the stored routes exactly `wanted`, in one transaction that NOTIFYs fanout on commit, and
 * returns the plan it carried out. A transaction-scoped advisory lock keeps two applies from
 * interleaving (each plans against what the other committed).
 */
export async function applyRoutes(dataSource: DataSource, wanted: readonly Route[]): Promise<RoutesPlan> {
  return dataSource.transaction(async (manager) => {
    await manager.query(/* sql */ `SELECT pg_advisory_xact_lock(hashtext($1))`, [ROUTES_CHANNEL]);
    const current = await manager.query<RouteRow[]>(/* sql */ `SELECT name, filter FROM routes`);
    const plan = planRoutes(current, wanted);
    if (plan.delete.length > 0) {
      await manager.query(/* sql */ `DELETE FROM routes WHERE name = ANY($1::text[])`, [plan.delete]);
    }
    for (const route of plan.create) {
      await manager.query(/* sql */ `INSERT INTO routes (name, filter) VALUES ($1, $2)`, [
        route.name,
        JSON.stringify(route.filter),
      ]);
    }
    for (const change of plan.update) {
      await manager.query(/* sql */ `UPDATE routes SET filter = $2, updated_at = now() WHERE name = $1`, [
        change.name,
        JSON.stringify(change.to),
      ]);
    }
    if (plan.create.length + plan.update.length + plan.delete.length > 0) {
      await manager.query(/* sql */ `SELECT pg_notify($1, '')`, [ROUTES_CHANNEL]);
    }
    return plan;
  });
}

/** Deletes one route (its topic stays: it holds what consumers may still read). Returns whether it existed. */
export async function deleteRoute(dataSource: DataSource, name: string): Promise<boolean> {
  return dataSource.transaction(async (manager) => {
    const [, count] = await manager.query<[unknown[], number]>(/* sql */ `DELETE FROM routes WHERE name = $1`, [name]);
    if (count > 0) await manager.query(/* sql */ `SELECT pg_notify($1, '')`, [ROUTES_CHANNEL]);
    return count > 0;
  });
}
