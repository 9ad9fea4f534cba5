// Two views of one schema in the same shape: what Prisma's DMMF of schema.prisma says the database
// should contain, and what Postgres's catalog says it does contain. Tests compare them with toStrictEqual,
// so anything present on one side only (a table, column, enum value, index or foreign key) fails.
import { get_dmmf } from "@prisma/prisma-schema-wasm";
import type pg from "pg";

export interface Catalog {
  enums: Record<string, string[]>;
  /** table -> column -> shape; `type` as Postgres's format_type() prints it. */
  tables: Record<string, Record<string, { type: string; nullable: boolean; default: string | null }>>;
  /** index name -> shape; columns carry " DESC" when descending. */
  indexes: Record<string, { table: string; primary: boolean; unique: boolean; columns: string[] }>;
  /** constraint name -> pg_get_constraintdef() text. */
  foreignKeys: Record<string, string>;
}

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: "scalar" | "enum" | "object" | "unsupported";
  type: string;
  isRequired: boolean;
  nativeType: [string, string[]] | null;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: "id" | "unique" | "normal" | "fulltext";
  dbName?: string | null;
  fields: { name: string; sortOrder?: "asc" | "desc" }[];
}
interface Datamodel {
  enums: { name: string; dbName: string | null; values: { name: string; dbName: string | null }[] }[];
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

/** Prisma's DMMF, computed offline by the same Wasm build of prisma-fmt that the Prisma CLI ships. */
export function datamodelOf(schema: string): Datamodel {
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [["schema.prisma", schema]] })));
  return dmmf.datamodel;
}

const quoteIdent = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name}"`);
const tableOf = (model: DmmfModel) => model.dbName ?? model.name;
const columnOf = (field: DmmfField) => field.dbName ?? field.name;

/** The column type Prisma Migrate creates for a field, in format_type() spelling. */
function columnType(field: DmmfField, enums: Map<string, string>): string {
  if (field.kind === "enum") return quoteIdent(enums.get(field.type) ?? field.type);
  const [native = "", args = []] = field.nativeType ?? [];
  const withArgs = (base: string, suffix = "") =>
    args.length ? `${base}(${args.join(",")})${suffix}` : base + suffix;
  switch (`${field.type}:${native}`) {
    case "String:":
    case "String:Text":
      return "text";
    case "String:Uuid":
      return "uuid";
    case "String:VarChar":
      return withArgs("character varying");
    case "String:Char":
      return withArgs("character");
    case "BigInt:":
      return "bigint";
    case "Int:":
      return "integer";
    case "Boolean:":
      return "boolean";
    case "Float:":
      return "double precision";
    case "Json:":
      return "jsonb";
    case "DateTime:":
      return "timestamp(3) without time zone";
    case "DateTime:Timestamptz":
      return withArgs("timestamp", " with time zone");
  }
  // Refuse rather than guess: an unmapped type would otherwise compare as whatever we guessed.
  throw new Error(`catalog.ts has no Postgres type for ${field.type} ${native}: add it to columnType()`);
}

/** The column default Prisma Migrate creates, in pg_get_expr() spelling; null when none is stored. */
function columnDefault(table: string, field: DmmfField, type: string): string | null {
  const value = field.default;
  if (value === undefined || value === null) return null;
  if (typeof value === "object" && "name" in value) {
    if (value.name === "autoincrement") return `nextval('${table}_${columnOf(field)}_seq'::regclass)`;
    if (value.name === "now") return "CURRENT_TIMESTAMP";
    if (["uuid", "cuid", "ulid", "nanoid"].includes(String(value.name))) return null; // made by the client
  }
  // DMMF gives BigInt defaults as strings; Postgres prints numeric literals bare.
  const numeric = ["Int", "BigInt", "Float", "Decimal"].includes(field.type);
  if (typeof value === "number" || typeof value === "boolean" || numeric) return String(value);
  if (typeof value === "string") return `'${value}'::${type}`;
  throw new Error(`catalog.ts cannot render the default ${JSON.stringify(value)} of ${table}.${field.name}`);
}

const REFERENTIAL_ACTIONS: Record<string, string> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

export function expectedCatalog(datamodel: Datamodel): Catalog {
  const enums = new Map(datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const models = new Map(datamodel.models.map((m) => [m.name, m]));
  const field = (model: DmmfModel, name: string) => model.fields.find((f) => f.name === name)!;

  const tables: Catalog["tables"] = {};
  const foreignKeys: Catalog["foreignKeys"] = {};
  for (const model of datamodel.models) {
    const table = tableOf(model);
    tables[table] = {};
    for (const f of model.fields) {
      if (f.kind === "object") {
        if (!f.relationFromFields?.length) continue; // the other side of a relation holds no column
        const target = models.get(f.type)!;
        const from = f.relationFromFields.map((name) => columnOf(field(model, name)));
        const to = f.relationToFields!.map((name) => columnOf(field(target, name)));
        // Prisma's defaults: onUpdate Cascade; onDelete Restrict for required relations, SetNull otherwise.
        const onUpdate = f.relationOnUpdate ?? "Cascade";
        const onDelete = f.relationOnDelete ?? (f.isRequired ? "Restrict" : "SetNull");
        const actions = [
          onUpdate in REFERENTIAL_ACTIONS ? ` ON UPDATE ${REFERENTIAL_ACTIONS[onUpdate]}` : "",
          onDelete in REFERENTIAL_ACTIONS ? ` ON DELETE ${REFERENTIAL_ACTIONS[onDelete]}` : "",
        ].join("");
        foreignKeys[`${table}_${from.join("_")}_fkey`] =
          `FOREIGN KEY (${from.join(", ")}) REFERENCES ${tableOf(target)}(${to.join(", ")})${actions}`;
        continue;
      }
      const type = columnType(f, enums);
      tables[table][columnOf(f)] = { type, nullable: !f.isRequired, default: columnDefault(table, f, type) };
    }
  }

  const indexes: Catalog["indexes"] = {};
  for (const index of datamodel.indexes) {
    const model = models.get(index.model)!;
    const table = tableOf(model);
    const names = index.fields.map((f) => columnOf(field(model, f.name)));
    const suffix = { id: "pkey", unique: "key", normal: "idx", fulltext: "idx" }[index.type];
    const name =
      index.dbName ?? (index.type === "id" ? `${table}_pkey` : `${table}_${names.join("_")}_${suffix}`);
    indexes[name] = {
      table,
      primary: index.type === "id",
      unique: index.type !== "normal",
      columns: names.map((n, i) => (index.fields[i]!.sortOrder === "desc" ? `${n} DESC` : n)),
    };
  }

  const enumValues = datamodel.enums.map((e) => [
    e.dbName ?? e.name,
    e.values.map((v) => v.dbName ?? v.name),
  ]);
  return { enums: Object.fromEntries(enumValues), tables, indexes, foreignKeys };
}

/** The catalog of the connection's current schema, less Prisma's own history table. */
export async function actualCatalog(client: pg.Client): Promise<Catalog> {
  const enums = await client.query<{ name: string; labels: string[] }>(`
    SELECT t.typname::text AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE t.typnamespace = current_schema()::regnamespace
     GROUP BY t.typname`);
  const columns = await client.query<{
    table: string;
    column: string;
    type: string;
    nullable: boolean;
    default: string | null;
  }>(`
    SELECT c.relname::text AS table, a.attname::text AS column, format_type(a.atttypid, a.atttypmod) AS type,
           NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
       AND c.relname <> '_prisma_migrations'`);
  // Partial indexes are left out: they are the migration's hand-written extras, which Prisma cannot express.
  const indexes = await client.query<{
    name: string;
    table: string;
    primary: boolean;
    unique: boolean;
    columns: string[];
  }>(`
    SELECT i.relname::text AS name, t.relname::text AS table, x.indisprimary AS primary, x.indisunique AS unique,
           array(SELECT a.attname::text || CASE WHEN x.indoption[k.ord - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  ORDER BY k.ord) AS columns
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = current_schema()::regnamespace AND x.indpred IS NULL
       AND t.relname <> '_prisma_migrations'`);
  const foreignKeys = await client.query<{ name: string; def: string }>(`
    SELECT conname::text AS name, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`);

  const tables: Catalog["tables"] = {};
  for (const { table, column, ...shape } of columns.rows) (tables[table] ??= {})[column] = shape;
  return {
    enums: Object.fromEntries(enums.rows.map((e) => [e.name, e.labels])),
    tables,
    indexes: Object.fromEntries(indexes.rows.map(({ name, ...shape }) => [name, shape])),
    foreignKeys: Object.fromEntries(foreignKeys.rows.map((fk) => [fk.name, fk.def])),
  };
}
