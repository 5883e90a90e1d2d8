/** The run view's webview panel type (its serializer is registered at activation, before the view's code loads). */
export const RUN_VIEW_TYPE = 'codedance.runView';
