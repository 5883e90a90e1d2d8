import { remoteSideBySide } from './bench/kernel.bench';
remoteSideBySide('/usr/bin/python3').then((r) => console.log(r));
