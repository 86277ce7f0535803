// The options of the `project` built-in server, in their own file so the server and its context module
// (resources and prompts) both read them without importing each other.
import { z } from 'zod';

export const projectOptions = z.strictObject({
  /** The source tree, relative to the config file's folder. Default '.'. */
  root: z.string().min(1).default('.'),
  /** Argument vector of the test command (no shell); run_tests exists only when this is set. */
  test_command: z.array(z.string().min(1)).min(1).optional(),
  /** run_tests ends the whole process group after this long. Default 120 s. */
  test_timeout_ms: z.number().int().positive().default(120_000),
  /** read_file and project://file refuse files larger than this. Default 8 MiB. */
  max_file_bytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  /** Text returned by one call is cut at this many characters. Default 100 000. */
  max_output_chars: z.number().int().positive().default(100_000),
  /** A root of `/` or the home folder is refused unless this is true. */
  allow_broad_root: z.boolean().default(false),
});
export type ProjectOptions = z.infer<typeof projectOptions>;
