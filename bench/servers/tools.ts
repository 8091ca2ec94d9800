/** The tool set every HTTP benchmark server registers: `echo` plus 100 small tools for tools/list. */
import { z } from 'zod';

export const echoSchema = z.object({ text: z.string() });
export const echo = async ({ text }: { text: string }) => ({ content: [{ type: 'text' as const, text }] });
export const EXTRA_TOOLS = Array.from({ length: 100 }, (_, i) => ({
  name: `tool_${i}`,
  description: `Benchmark tool number ${i}, returns its own name`,
  schema: z.object({ value: z.string().describe('Any value'), count: z.number().int().optional() }),
}));
export const port = Number(process.env.PORT ?? 0);
