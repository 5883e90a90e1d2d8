// placeholder replaced below
console.log('codedance');
