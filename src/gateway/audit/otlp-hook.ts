// What the audit log knows of its OTLP logs export, without importing OpenTelemetry: audit/otlp.ts installs the
// export when the process starts telemetry with `telemetry.otlp` (cli.ts); nothing installed, nothing exported
// and no OpenTelemetry module loaded.
import type { AuditMirror } from './sink.js';

export interface AuditExport {
  /** What the sink tells of each written record. */
  readonly mirror: AuditMirror;
  /** Exports what is still buffered (on shutdown), giving up after a few seconds. */
  flush(): Promise<void>;
}

let installed: AuditExport | undefined;

/** Called by audit/otlp.ts once its logger provider runs. */
export function installAuditExport(exported: AuditExport): void {
  installed = exported;
}

/** The export in force, when the process started one. */
export function installedAuditExport(): AuditExport | undefined {
  return installed;
}
