// The one caller of `invoke`: every command's function (ipc-commands.ts,
// generated from crates/ipc) goes through `call`.
import { invoke } from "@tauri-apps/api/core";
import type { CommandError } from "./ipc-types";

/** A command's failure, as the Rust side describes it. */
export class IpcError extends Error {
  constructor(public readonly detail: CommandError) {
    super(detail.message);
  }
}

export async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    if (e && typeof e === "object" && "message" in e) {
      throw new IpcError(e as CommandError);
    }
    throw new IpcError({ problem: null, message: String(e) });
  }
}
