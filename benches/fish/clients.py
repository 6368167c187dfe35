#!/usr/bin/python3
"""100 raw BEP 9 clients against `lowspace fish` on 127.0.0.1:PORT, each fetching every metadata
piece of a random torrent under ./load and checking its SHA-1: clients.py PORT"""
import socket, struct, hashlib, glob, random, threading, time, re, sys
port=int(sys.argv[1]); files=sorted(glob.glob("load/*.torrent"))
def info_of(p):
    d=open(p,"rb").read(); i=d.index(b"4:info")+6; return d[i:-1]
ok=[0]; lock=threading.Lock()
def client(k):
    info=info_of(random.choice(files)); h=hashlib.sha1(info).digest()
    s=socket.create_connection(("127.0.0.1",port)); s.settimeout(20)
    s.sendall(b"\x13BitTorrent protocol"+bytes([0,0,0,0,0,0x10,0,4])+h+b"-PY0000-%012d"%k)
    def rd(n):
        b=b""
        while len(b)<n:
            c=s.recv(n-len(b))
            if not c: raise Exception("closed")
            b+=c
        return b
    rd(68)
    def send_ext(i,p): s.sendall(struct.pack(">IBB",len(p)+2,20,i)+p)
    send_ext(0,b"d1:md11:ut_metadatai7eee")
    n=(len(info)+16383)//16384
    for p in range(n): send_ext(3,b"d8:msg_typei0e5:piecei%dee"%p)
    got={}
    while len(got)<n:
        l=struct.unpack(">I",rd(4))[0]; body=rd(l)
        if l>=2 and body[0]==20 and body[1]==7:
            m=re.match(rb"d8:msg_typei1e5:piecei(\d+)e10:total_sizei\d+ee",body[2:])
            got[int(m.group(1))]=body[2+m.end():]
    data=b"".join(got[i] for i in range(n))
    if hashlib.sha1(data).digest()==h:
        with lock: ok[0]+=1
    s.close()
t=time.time(); ts=[threading.Thread(target=client,args=(k,)) for k in range(100)]
[x.start() for x in ts]; [x.join() for x in ts]
print("verified", ok[0], "of 100 in %.2fs"%(time.time()-t))
