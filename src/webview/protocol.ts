/**
 * The one typed message protocol between the chat webview and the extension.
 * Types only: both sides import it; nothing else crosses the boundary.
 */

/** Messages the webview sends to the extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'command'; command: 'newChat' | 'askAboutImage' };

/** Messages the extension sends to the webview. */
export type ToWebview =
  | { type: 'init'; state: PanelState }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string };

export interface PanelState {
  /** endpoint + model line for the status bar of the panel */
  endpoint: string;
  model: string;
  trusted: boolean;
  /** features not yet shipped: rendered honestly as "not available yet" */
  chatAvailable: boolean;
}
