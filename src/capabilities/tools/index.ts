/**
 * The built-in tools, by name. To add one: write `<name>.ts` here exporting a BuiltinTool,
 * list it below, and add a test file under tests/unit/capabilities/tools/.
 */
import { deleteFileTool } from './delete-file.ts';
import { echoTool } from './echo.ts';
import { executeCodeTool } from './execute-code.ts';
import { httpRequestTool } from './http-request.ts';
import { readFileTool } from './read-file.ts';
import { sleepTool } from './sleep.ts';
import type { BuiltinTool } from './tool.ts';
import { writeFileTool } from './write-file.ts';

export type { BuiltinTool, ToolContext } from './tool.ts';

/** Every built-in tool, keyed by its name. */
export const BUILTIN_TOOLS: ReadonlyMap<string, BuiltinTool> = new Map(
  [echoTool, sleepTool, readFileTool, writeFileTool, deleteFileTool, httpRequestTool, executeCodeTool].map(
    (tool) => [tool.name, Object.freeze(tool)] as const,
  ),
);
