studio: Mosaic API at http://127.0.0.1:18765
[   0.0s] 0/1 finished · 1 queued
run 20aa02cf-3dcb-4dae-9fbc-d3cd768eb005 on agent aaae38c7-3ec3-4d5c-9bb7-41829338567a is a stray (a late duplicate: the job already follows run 4d81d9e7-a4df-48ca-97d0-d936c3af72b7); cancelling it
run acb15146-5500-44f1-ad3c-f83e21cc9e83 on agent c4a10850-d95b-4233-936e-bc543e33fd54 is a stray (a late duplicate: the job already follows run f33d4278-ec7a-40b0-b181-11e81f5d3761); cancelling it
[   0.3s] 0/1 finished · 1 running
[   0.5s] 0/1 finished · 1 running
[   0.8s] 0/1 finished · 1 running
[   3.3s] 1/1 finished · 1 done
53aae69ebc0c: /tmp/review7-data-s1grid/media/53aae69ebc0c.mp4 496x864 4.0s audio=yes
