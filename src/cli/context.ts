// What every notifyd CLI command's action gets: its output (tables, or --json), its configuration (only the
// variables it uses) and connections the entry point closes before the process exits; failures become one
// message on stderr with the documented exit code.
import { CommanderError, type Command } from 'commander';
import type { Config } from '../config/load.js';
import type { VariableName } from '../config/schema.js';
import { describeError } from '../errors.js';
import { configFor, Connections, type Env } from './connect.js';
import { CliError, createOutput, EXIT, type Output } from './output.js';

export interface CommandContext {
  readonly name: string;
  readonly out: Output;
  readonly env: Env;
  /** this command's configuration: only `uses` are read (exit 78 naming the variable when one is invalid) */
  config(uses: readonly VariableName[]): Config;
  /** connections for that configuration, closed by the entry point */
  connect(config: Config): Connections;
}

export class Cli {
  readonly env: Env;
  private readonly write: (s: string) => void;
  private readonly writeErr: (s: string) => void;
  private readonly opened: Connections[] = [];
  private output: Output | undefined;

  constructor(env: Env, write: (s: string) => void, writeErr: (s: string) => void) {
    this.env = env;
    this.write = write;
    this.writeErr = writeErr;
  }

  /** The exit code the last command asked for through its output (0 when it ran no action). */
  get exitCode(): number {
    return this.output?.exitCode ?? EXIT.ok;
  }

  /**
   * A commander action: `fn` gets the context, then commander's arguments (positionals, options, the command).
   * Any error that is not a CliError is reported as `notifyd <command>: <what failed>` with exit code 1.
   */
  action<A extends unknown[]>(
    name: string,
    fn: (ctx: CommandContext, ...args: A) => Promise<void>,
  ): (...args: A) => Promise<void> {
    return async (...args: A) => {
      const cmd = args[args.length - 1] as Command;
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      const out = createOutput(json, this.write, this.writeErr);
      this.output = out;
      const ctx: CommandContext = {
        name,
        out,
        env: this.env,
        config: (uses) => configFor(name, uses, this.env),
        connect: (config) => {
          const c = new Connections(config, name);
          this.opened.push(c);
          return c;
        },
      };
      try {
        await fn(ctx, ...args);
      } catch (err) {
        if (err instanceof CliError || err instanceof CommanderError) throw err;
        throw new CliError(`notifyd ${name}: ${describeError(err)}`, EXIT.failed);
      }
    };
  }

  /** Closes every connection any command opened; bounded. */
  async close(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((c) => c.close()));
  }
}
