import * as vscode from 'vscode';

/** "Training Jobs" tree: clusters → jobs. Empty until cluster profiles exist (viewsWelcome shows the action). */
export class JobsTreeProvider implements vscode.TreeDataProvider<vscode.TreeItem> {
  static readonly viewId = 'codedance.jobs';
  private readonly changed = new vscode.EventEmitter<vscode.TreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  getChildren(): vscode.TreeItem[] {
    return [];
  }

  refresh(): void {
    this.changed.fire(undefined);
  }
}
