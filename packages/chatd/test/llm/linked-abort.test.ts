import { describe, expect, it } from 'vitest';
import { linkAbort } from '../../src/llm/linked-abort.js';

describe('linkAbort', () => {
  it("aborts with the parent's reason, rejects abandoned with it, and runs onAbort once", async () => {
    const parent = new AbortController();
    let aborts = 0;
    const linked = linkAbort(parent.signal, () => aborts++);
    expect(linked.controller.signal.aborted).toBe(false);
    const reason = new Error('the turn was interrupted');
    parent.abort(reason);
    expect(linked.controller.signal.reason).toBe(reason);
    await expect(linked.abandoned).rejects.toBe(reason);
    linked.controller.abort(new Error('again'));
    expect(aborts).toBe(1);
  });

  it('is aborted at once when the parent already is', async () => {
    const reason = new Error('aborted before the call');
    const linked = linkAbort(AbortSignal.abort(reason));
    expect(linked.controller.signal.aborted).toBe(true);
    await expect(linked.abandoned).rejects.toBe(reason);
  });

  it('aborts on its own without the parent, and no longer follows the parent once unlinked', async () => {
    const parent = new AbortController();
    const own = linkAbort(parent.signal);
    own.controller.abort(new Error('idle timeout'));
    await expect(own.abandoned).rejects.toThrow('idle timeout');
    expect(parent.signal.aborted).toBe(false);

    const unlinked = linkAbort(parent.signal);
    unlinked.unlink();
    parent.abort(new Error('later'));
    expect(unlinked.controller.signal.aborted).toBe(false);
  });
});
