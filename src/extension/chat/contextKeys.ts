/** The chat's context keys (menus, the walkthrough's steps), each set only when it changes. */
import * as vscode from 'vscode';

export class ContextKeys {
  private readonly values = new Map<string, unknown>();

  set(key: string, value: unknown): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  /**
   * Sets the true ones of `keys` again (false → true). VS Code creates its walkthrough service when
   * it is first needed, and a key already true then counts as seen without checking its step; a
   * change does check it.
   */
  async reannounce(keys: string[]): Promise<void> {
    for (const key of keys) {
      if (this.values.get(key) !== true) continue;
      await vscode.commands.executeCommand('setContext', key, false);
      await vscode.commands.executeCommand('setContext', key, true);
    }
  }
}
