import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { echoTool } from '../../../../src/capabilities/tools/echo.ts';
import { makeSandbox, type TempSandbox } from './tool-context.ts';

describe('echo', () => {
  let sandbox: TempSandbox;
  beforeEach(async () => {
    sandbox = await makeSandbox();
  });
  afterEach(() => sandbox.cleanup());

  it('returns the message it was given', async () => {
    await expect(echoTool.run({ message: 'héllo 👋' }, sandbox.ctx())).resolves.toEqual({
      message: 'héllo 👋',
    });
  });

  it('refuses a message that is not a string', async () => {
    await expect(echoTool.run({ message: 42 }, sandbox.ctx())).rejects.toMatchObject({
      code: 'invalid_params',
    });
  });
});
