/**
 * An image of a stored trajectory as a data: URL: core's function (pure, no Node), which the
 * report webview runs through here. Kept apart from the protocols' schemas, which only the
 * extension runs, so that a webview bundle does not carry them.
 */
export { imageDataUrl } from '../core/trajectory/images';
