import { trace, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Db, Row, SqlExecutor, SqlValue } from '../store/sql/index.js';

export type TraceExporterKind = 'off' | 'console' | 'otlp';

export interface Tracing {
  tracer: Tracer | null;
  shutdown(): Promise<void>;
}

/** Starts OpenTelemetry tracing when asked; with 'off' no provider is installed and spans cost nothing. */
export function startTracing(kind: TraceExporterKind, otlpEndpoint: string): Tracing {
  if (kind === 'off') return { tracer: null, shutdown: async () => undefined };
  const processor: SpanProcessor =
    kind === 'console' ? new SimpleSpanProcessor(new ConsoleSpanExporter()) : new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint }));
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  return { tracer: trace.getTracer('capstan'), shutdown: () => provider.shutdown() };
}

function spanned<T>(tracer: Tracer, name: string, sql: string, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes: { 'db.statement': sql.slice(0, 500) } }, async (span: Span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

function tracedExecutor(tracer: Tracer, system: string, ex: SqlExecutor): SqlExecutor {
  return {
    all: <T = Row>(sql: string, p?: readonly SqlValue[]) => spanned(tracer, `${system}.all`, sql, () => ex.all<T>(sql, p)),
    get: <T = Row>(sql: string, p?: readonly SqlValue[]) => spanned(tracer, `${system}.get`, sql, () => ex.get<T>(sql, p)),
    run: (sql: string, p?: readonly SqlValue[]) => spanned(tracer, `${system}.run`, sql, () => ex.run(sql, p)),
    runMany: (sql: string, rows: readonly (readonly SqlValue[])[]) => spanned(tracer, `${system}.runMany`, sql, () => ex.runMany(sql, rows)),
  };
}

/** Wraps a Db so every statement and transaction is a span (only used when tracing is on). */
export function tracedDb(db: Db, tracer: Tracer): Db {
  const system = db.dialect.name;
  const ex = tracedExecutor(tracer, system, db);
  return {
    dialect: db.dialect,
    displayUri: db.displayUri,
    ...ex,
    transaction: (fn) => spanned(tracer, `${system}.transaction`, '', () => db.transaction((tx) => fn(tracedExecutor(tracer, system, tx)))),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
